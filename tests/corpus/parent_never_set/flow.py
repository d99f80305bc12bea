from metaflow import FlowSpec, step


class FilterFlow(FlowSpec):
    @step
    def start(self):
        self.scores = [0.2, 0.7, 0.9]
        self.next(self.keep)

    @step
    def keep(self):
        self.kept = [s for s in self.scores if s > 0.5]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FilterFlow()
