from metaflow import FlowSpec, step


class GraphFlow(FlowSpec):
    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.train)

    @step
    def train(self):
        self.model = sum(self.data)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GraphFlow()
