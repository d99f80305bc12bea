from metaflow import FlowSpec, step


class LoanRiskFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(1)
        n = 200
        income = rng.uniform(10_000, 90_000, size=n).round()
        income[rng.choice(n, size=8, replace=False)] = 0.0  # students without income
        self.loans = pd.DataFrame({"income": income, "debt": rng.uniform(500, 30_000, size=n).round()})
        self.defaulted = (self.loans["debt"] > 20_000).astype(int).to_numpy()
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        df = self.loans.copy()
        df["ratio"] = df["debt"] / df["income"].clip(lower=1.0)
        X = StandardScaler().fit_transform(df[["income", "debt", "ratio"]])
        model = LogisticRegression().fit(X, self.defaulted)
        self.coefs = model.coef_.ravel().tolist()
        self.next(self.end)

    @step
    def end(self):
        print("coefficients:", [round(c, 3) for c in self.coefs])


if __name__ == "__main__":
    LoanRiskFlow()
