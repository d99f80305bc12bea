from metaflow import FlowSpec, step

from features import rolling_features


class SmoothFlow(FlowSpec):
    @step
    def start(self):
        self.series = [float((i * 17) % 23) for i in range(60)]
        self.next(self.smooth)

    @step
    def smooth(self):
        self.smoothed = rolling_features(self.series, window=5, min_periods=2)
        self.next(self.end)

    @step
    def end(self):
        print(self.smoothed[-1])


if __name__ == "__main__":
    SmoothFlow()
