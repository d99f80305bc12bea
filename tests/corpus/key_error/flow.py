from metaflow import FlowSpec, step


class ConfigFlow(FlowSpec):
    @step
    def start(self):
        self.config = {"learning_rate": 0.1, "epochs": 3, "batch_size": 32}
        self.next(self.train)

    @step
    def train(self):
        lr = self.config["learning_rate"]
        self.schedule = [lr / (e + 1) for e in range(self.config["epochs"])]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigFlow()
