from metaflow import FlowSpec, step


class GridFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(10)
        self.X = rng.normal(size=(150, 3))
        self.y = self.X @ np.array([1.5, -2.0, 0.5]) + rng.normal(0, 0.1, size=150)
        grid = [0.01, 0.1, 1.0, 10.0]
        self.params = [a for a in grid if a <= 1.0]
        self.next(self.train, foreach="params")

    @step
    def train(self):
        from sklearn.linear_model import Ridge

        self.alpha = self.input
        self.r2 = float(Ridge(alpha=self.alpha).fit(self.X, self.y).score(self.X, self.y))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best_alpha = max(inputs, key=lambda i: i.r2).alpha
        self.next(self.end)

    @step
    def end(self):
        print(f"best alpha {self.best_alpha}")


if __name__ == "__main__":
    GridFlow()
