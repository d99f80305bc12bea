from metaflow import FlowSpec, step


class PrepFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(2)
        self.raw = rng.lognormal(mean=3.0, sigma=1.0, size=500)
        self.new_raw = rng.lognormal(mean=3.2, sigma=1.0, size=200)
        self.next(self.prepare)

    @step
    def prepare(self):
        import numpy as np

        self.features = np.log1p(self.raw)
        self.next(self.score)

    @step
    def score(self):
        import numpy as np

        self.new_features = np.log1p(self.new_raw)
        self.drift = float(self.new_features.mean() - self.features.mean())
        self.next(self.end)

    @step
    def end(self):
        print(f"feature drift: {self.drift:.3f}")


if __name__ == "__main__":
    PrepFlow()
