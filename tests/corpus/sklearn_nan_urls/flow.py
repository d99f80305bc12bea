from metaflow import FlowSpec, step


class HousePriceFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(19)
        n = 250
        kind = rng.choice(["house", "apartment"], size=n)
        self.homes = pd.DataFrame({
            "sqft": rng.uniform(400, 3000, size=n).round(),
            "bedrooms": rng.integers(1, 6, size=n),
            "lot_size": np.where(kind == "house", rng.uniform(2000, 10000, size=n).round(), np.nan),
        })
        self.price = (self.homes["sqft"] * 300 + rng.normal(0, 20_000, size=n)).to_numpy()
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.svm import SVR

        features = ["sqft", "bedrooms"]
        model = SVR(kernel="linear", C=10.0).fit(self.homes[features], self.price)
        self.n_support = len(model.support_)
        self.next(self.end)

    @step
    def end(self):
        print(f"{self.n_support} support vectors")


if __name__ == "__main__":
    HousePriceFlow()
