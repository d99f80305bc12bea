from metaflow import FlowSpec, step


class CleanTrainFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(14)
        self.raw = pd.DataFrame({"x": rng.normal(size=100), "y": rng.normal(size=100)})
        self.raw.loc[::10, "x"] = np.nan
        self.next(self.clean)

    @step
    def clean(self):
        self.data = self.raw.dropna()
        self.dropped = len(self.raw) - len(self.data)
        self.next(self.train)

    @step
    def train(self):
        import numpy as np

        self.slope = float(np.polyfit(self.data["x"], self.data["y"], 1)[0])
        self.next(self.end)

    @step
    def end(self):
        print(f"dropped {self.dropped} rows, slope {self.slope:.3f}")


if __name__ == "__main__":
    CleanTrainFlow()
