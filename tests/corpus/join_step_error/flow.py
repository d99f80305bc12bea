from metaflow import FlowSpec, step


class EvalFlow(FlowSpec):
    @step
    def start(self):
        self.seeds = [1, 2, 3]
        self.next(self.evaluate, foreach="seeds")

    @step
    def evaluate(self):
        self.score = self.input * 0.5
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EvalFlow()
