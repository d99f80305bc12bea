from metaflow import FlowSpec, step


class ChurnFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(7)
        self.X = rng.normal(size=(200, 3))
        self.y = (self.X[:, 0] + 0.5 * self.X[:, 1] > 0).astype(int)
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(self.X, self.y)
        self.churn_prob = model.predict_proba(self.X)[:, 1]
        self.mean_prob = float(self.churn_prob.mean())
        self.next(self.end)

    @step
    def end(self):
        print(f"mean churn probability: {self.mean_prob:.3f}")


if __name__ == "__main__":
    ChurnFlow()
