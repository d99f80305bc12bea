import pandas as pd
from metaflow import FlowSpec, step


class ReportFlow(FlowSpec):
    @step
    def start(self):
        self.frames = [pd.DataFrame({"sales": [1, 2]}), pd.DataFrame({"sales": [5]})]
        self.next(self.combine)

    @step
    def combine(self):
        self.table = pd.concat(self.frames, ignore_index=True)
        self.next(self.end)

    @step
    def end(self):
        print(self.table.sales.sum())


if __name__ == "__main__":
    ReportFlow()
