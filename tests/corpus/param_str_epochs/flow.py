from metaflow import FlowSpec, Parameter, step


class TrainLoopFlow(FlowSpec):
    """Runs a toy training loop for --epochs epochs."""

    epochs = Parameter("epochs", default=3, help="training epochs")

    @step
    def start(self):
        self.losses = []
        for epoch in range(self.epochs):
            self.losses.append(1.0 / (epoch + 1))
        self.next(self.end)

    @step
    def end(self):
        print("final loss", self.losses[-1])


if __name__ == "__main__":
    TrainLoopFlow()
