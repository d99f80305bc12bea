from metaflow import FlowSpec, step


class KillFlow(FlowSpec):
    @step
    def start(self):
        self.size = 3
        self.next(self.work)

    @step
    def work(self):
        self.buffer = [0] * self.size
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KillFlow()
