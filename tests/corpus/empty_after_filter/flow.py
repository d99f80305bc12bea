from metaflow import FlowSpec, step


class RecentDemandFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(4)
        n = 240
        self.demand = pd.DataFrame({
            "year": rng.integers(2015, 2025, size=n),
            "price": rng.uniform(1, 10, size=n).round(2),
            "promo": rng.integers(0, 2, size=n),
        })
        self.demand["units"] = 100 - 6 * self.demand["price"] + 15 * self.demand["promo"]
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.linear_model import LinearRegression

        recent = self.demand[self.demand["year"] >= 2020]
        model = LinearRegression().fit(recent[["price", "promo"]], recent["units"])
        self.elasticity = float(model.coef_[0])
        self.next(self.end)

    @step
    def end(self):
        print(f"price effect {self.elasticity:.2f}")


if __name__ == "__main__":
    RecentDemandFlow()
