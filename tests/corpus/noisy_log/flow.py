from metaflow import FlowSpec, step


class NoisyFlow(FlowSpec):
    @step
    def start(self):
        self.epochs = 3000
        self.next(self.train)

    @step
    def train(self):
        loss = 1.0
        for epoch in range(self.epochs):
            loss *= 0.999
            print(f"epoch {epoch}: loss={loss:.6f}")
        self.loss = loss
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NoisyFlow()
