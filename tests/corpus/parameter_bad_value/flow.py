from metaflow import FlowSpec, Parameter, step


class RidgeFlow(FlowSpec):
    alpha = Parameter("alpha", type=float, default=0.5, help="Ridge regularisation strength")

    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(15)
        self.X = rng.normal(size=(100, 4))
        self.y = self.X @ np.array([2.0, 0.0, -1.0, 0.5]) + rng.normal(0, 0.3, size=100)
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import Ridge

        # regularisation strength comes from --alpha
        model = Ridge(alpha=self.alpha).fit(self.X, self.y)
        self.coefs = model.coef_.round(3).tolist()
        self.next(self.end)

    @step
    def end(self):
        print(f"alpha={self.alpha} coefs={self.coefs}")


if __name__ == "__main__":
    RidgeFlow()
