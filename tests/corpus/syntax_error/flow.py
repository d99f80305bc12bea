from metaflow import FlowSpec, step


class SyntaxFlow(FlowSpec):
    @step
    def start(self):
        self.values = [1, 2, 3]
        self.next(self.train)

    @step
    def train(self):
        self.total = sum(self.values)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SyntaxFlow()
