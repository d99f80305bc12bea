from metaflow import FlowSpec, Parameter, step


class ParamsFlow(FlowSpec):
    alpha = Parameter("alpha", type=float, default=0.1)
    count = Parameter("count", type=int, default=2)
    fail = Parameter("fail", type=bool, default=False)

    @step
    def start(self):
        self.items = list(range(self.count))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.score)

    @step
    def score(self):
        if self.fail:
            raise ValueError(f"refusing to score a total of {self.total}")
        self.result = self.total * 2
        print(f"result is {self.result}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsFlow()
