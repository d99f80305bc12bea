from metaflow import FlowSpec, step


class ThresholdFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(6)
        self.scores = rng.uniform(size=400)
        self.labels = (self.scores + rng.normal(0, 0.2, size=400) > 0.6).astype(int)
        self.next(self.precision_first, self.recall_first)

    @step
    def precision_first(self):
        self.threshold = 0.8
        self.flagged_p = int((self.scores >= self.threshold).sum())
        self.next(self.combine)

    @step
    def recall_first(self):
        self.threshold = 0.4
        self.flagged_r = int((self.scores >= self.threshold).sum())
        self.next(self.combine)

    @step
    def combine(self, inputs):
        self.merge_artifacts(inputs, exclude=["threshold"])
        self.thresholds = sorted(i.threshold for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"flagged {self.flagged_p} (precision) vs {self.flagged_r} (recall), thresholds {self.thresholds}")


if __name__ == "__main__":
    ThresholdFlow()
