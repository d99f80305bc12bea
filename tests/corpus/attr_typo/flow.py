from metaflow import FlowSpec, step


class TypoFlow(FlowSpec):
    @step
    def start(self):
        self.model = {"weights": [0.5, 1.5]}
        self.features = [1.0, 2.0]
        self.next(self.score)

    @step
    def score(self):
        self.prediction = sum(w * x for w, x in zip(self.model["weights"], self.features))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TypoFlow()
