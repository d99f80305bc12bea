from metaflow import FlowSpec, step


class JoinFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = self.base + 1
        self.next(self.join)

    @step
    def b(self):
        self.x = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.x for i in inputs) + self.base
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinFlow()
