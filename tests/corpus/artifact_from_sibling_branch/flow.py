from metaflow import FlowSpec, step


class FeatureBranchFlow(FlowSpec):
    @step
    def start(self):
        self.prices = [3.0, 5.0, 4.0]
        self.next(self.stats, self.scale)

    @step
    def stats(self):
        self.mean = sum(self.prices) / len(self.prices)
        self.next(self.join)

    @step
    def scale(self):
        self.scaled = [p / max(self.prices) for p in self.prices]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.mean, self.scaled)


if __name__ == "__main__":
    FeatureBranchFlow()
