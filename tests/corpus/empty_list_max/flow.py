from metaflow import FlowSpec, step


class TuneFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(12)
        self.X = rng.normal(size=(200, 4))
        self.y = (self.X[:, 0] - self.X[:, 2] > 0).astype(int)
        self.Cs = [0.01, 1.0, 10.0]
        self.next(self.train, foreach="Cs")

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score

        self.C = self.input
        self.score = float(cross_val_score(LogisticRegression(C=self.C), self.X, self.y, cv=3).mean())
        self.next(self.pick)

    @step
    def pick(self, inputs):
        good = [(i.score, i.C) for i in inputs if i.score >= 0.7]
        self.best_score, self.best_C = max(good)
        self.next(self.end)

    @step
    def end(self):
        print(f"best C={self.best_C} score={self.best_score:.3f}")


if __name__ == "__main__":
    TuneFlow()
