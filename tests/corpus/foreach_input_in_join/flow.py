from metaflow import FlowSpec, step


class RegionFlow(FlowSpec):
    @step
    def start(self):
        self.regions = ["north", "south", "east"]
        self.next(self.fit, foreach="regions")

    @step
    def fit(self):
        self.region = self.input
        self.error = len(self.input) / 10
        self.next(self.pick)

    @step
    def pick(self, inputs):
        best = min(inputs, key=lambda i: i.error)
        self.best = best.region
        self.next(self.end)

    @step
    def end(self):
        print(self.best)


if __name__ == "__main__":
    RegionFlow()
