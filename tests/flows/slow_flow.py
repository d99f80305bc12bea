from metaflow import FlowSpec, step

from slow_pickle import SlowToLoad


class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.slow = SlowToLoad(4)
        self.small = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
