import time

from metaflow import FlowSpec, step, timeout


class PollFlow(FlowSpec):
    @step
    def start(self):
        self.batches = ["b1", "b2", "b3"]
        self.next(self.wait_for_batches)

    @timeout(seconds=2)
    @step
    def wait_for_batches(self):
        ready = []
        for batch in self.batches:
            time.sleep(0.1)  # wait for the upstream job to publish the batch
            ready.append(batch)
        self.ready = ready
        self.next(self.end)

    @step
    def end(self):
        print("ready:", self.ready)


if __name__ == "__main__":
    PollFlow()
