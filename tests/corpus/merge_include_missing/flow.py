from metaflow import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.rows = list(range(10))
        self.next(self.small, self.large)

    @step
    def small(self):
        self.model = "tree-depth-2"
        self.score = 0.71
        self.next(self.choose)

    @step
    def large(self):
        self.model_size = 8
        self.score = 0.74
        self.next(self.choose)

    @step
    def choose(self, inputs):
        self.merge_artifacts(inputs, include=["rows", "model"])
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.model, self.best)


if __name__ == "__main__":
    BranchFlow()
