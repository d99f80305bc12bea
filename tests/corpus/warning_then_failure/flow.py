from metaflow import FlowSpec, step


class QuickModelFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(20)
        self.X = rng.normal(size=(300, 5)) * [1, 10, 100, 1000, 1]
        self.y = (self.X[:, 0] + self.X[:, 4] > 0).astype(int)
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, f1_score

        model = LogisticRegression(max_iter=1).fit(self.X, self.y)  # quick smoke model
        pred = model.predict(self.X)
        metrics = {"accuracy": accuracy_score(self.y, pred), "f1": f1_score(self.y, pred)}
        self.headline = float(metrics["f1"])
        self.next(self.end)

    @step
    def end(self):
        print(f"f1 = {self.headline:.3f}")


if __name__ == "__main__":
    QuickModelFlow()
