from metaflow import FlowSpec, step


class DivideFlow(FlowSpec):
    @step
    def start(self):
        self.divisors = [1, 2, 1]
        self.next(self.divide, foreach="divisors")

    @step
    def divide(self):
        self.result = 100 / self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DivideFlow()
