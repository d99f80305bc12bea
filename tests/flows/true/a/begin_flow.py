from metaflow import FlowSpec, step


class BeginFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.x = 1
        self.next(self.visit)

    @step
    def visit(self):
        self.y = self.x + 1
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass


if __name__ == "__main__":
    BeginFlow()
