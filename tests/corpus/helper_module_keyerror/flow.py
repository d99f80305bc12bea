from metaflow import FlowSpec, step

from optim import step_size


class OptimFlow(FlowSpec):
    @step
    def start(self):
        self.config = {"optimizer": {"learning_rate": 0.01, "momentum": 0.9}, "epochs": 3}
        self.next(self.train)

    @step
    def train(self):
        self.sizes = [step_size(self.config, e) for e in range(self.config["epochs"])]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OptimFlow()
