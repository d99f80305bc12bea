import time

from metaflow import FlowSpec, step


class SleepyFlow(FlowSpec):
    @step
    def start(self):
        print("going to sleep")
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
