import pandas as pd
from metaflow import FlowSpec, step

from mypkg.features.scale import add_ratio


class TrafficFlow(FlowSpec):
    @step
    def start(self):
        self.df = pd.DataFrame({"revenue": [10.0, 30.0, 12.0], "visits": [5, 10, 4]})
        self.next(self.features)

    @step
    def features(self):
        self.table = add_ratio(self.df)
        self.next(self.end)

    @step
    def end(self):
        print(self.table)


if __name__ == "__main__":
    TrafficFlow()
