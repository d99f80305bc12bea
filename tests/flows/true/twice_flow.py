from metaflow import FlowSpec, Parameter, step


class TwiceFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("alpha", default=2)  # one name twice: Metaflow refuses the run before any step

    @step
    def start(self):
        self.x = self.alpha
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TwiceFlow()
