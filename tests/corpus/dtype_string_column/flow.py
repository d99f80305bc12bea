from metaflow import FlowSpec, step


class RentFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(9)
        n = 150
        self.listings = pd.DataFrame({
            "sqm": rng.uniform(20, 140, size=n).round(),
            "rooms": rng.integers(1, 6, size=n),
            "city": rng.choice(["Berlin", "Hamburg", "Munich"], size=n),
        })
        self.rent = (self.listings["sqm"] * 12 + rng.normal(0, 50, size=n)).to_numpy()
        self.next(self.train)

    @step
    def train(self):
        import pandas as pd
        from sklearn.linear_model import LinearRegression

        X = pd.get_dummies(self.listings, columns=["city"], dtype=float)
        model = LinearRegression().fit(X, self.rent)
        self.r2 = float(model.score(X, self.rent))
        self.next(self.end)

    @step
    def end(self):
        print(f"R^2 = {self.r2:.3f}")


if __name__ == "__main__":
    RentFlow()
