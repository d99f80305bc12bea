import numpy as np
from metaflow import FlowSpec, Parameter, step


class ThresholdFlow(FlowSpec):
    """Keeps the scores above --threshold."""

    threshold = Parameter("threshold", default=0.5, help="minimum score kept")

    @step
    def start(self):
        scores = np.array([0.2, 0.55, 0.9, 0.71])
        self.kept = scores[scores > self.threshold]
        self.next(self.end)

    @step
    def end(self):
        print(len(self.kept), "kept")


if __name__ == "__main__":
    ThresholdFlow()
