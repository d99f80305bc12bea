import time

from metaflow import FlowSpec, Parameter, step


class SleeperFlow(FlowSpec):
    secs = Parameter("secs", default=0.0, type=float)
    label = Parameter("label", default="plain")
    fail = Parameter("fail", default=False, type=bool)

    @step
    def start(self):
        self.seen = self.label
        self.next(self.train)

    @step
    def train(self):
        if self.fail:
            raise RuntimeError("told to fail")
        time.sleep(self.secs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleeperFlow()
