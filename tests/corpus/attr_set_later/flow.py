from metaflow import FlowSpec, step


class FeatureFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [[1.0, 2.0], [3.0, 4.0]]
        self.next(self.train)

    @step
    def train(self):
        self.total = sum(sum(r) for r in self.rows)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FeatureFlow()
