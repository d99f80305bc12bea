from metaflow import FlowSpec, step


class ChurnModelFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        n = 300
        customers = pd.DataFrame({
            "age": rng.integers(18, 80, size=n).astype(float),
            "income": rng.normal(50_000, 15_000, size=n).round(),
            "tenure": rng.integers(0, 120, size=n),
        })
        customers.loc[rng.choice(n, size=25, replace=False), "age"] = np.nan  # age not given
        self.customers = customers
        self.churned = (customers["tenure"] < 24).astype(int).to_numpy()
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression

        X = self.customers.fillna({"age": self.customers["age"].median()})
        model = LogisticRegression(max_iter=1000).fit(X, self.churned)
        self.accuracy = float(model.score(X, self.churned))
        self.next(self.end)

    @step
    def end(self):
        print(f"train accuracy {self.accuracy:.3f}")


if __name__ == "__main__":
    ChurnModelFlow()
