from metaflow import FlowSpec, step


class ChurnFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.customers = pd.DataFrame({
            "customer_id": range(1000, 1120),
            "tenure": [i % 36 for i in range(120)],
            "monthly_spend": [20 + (i * 7) % 50 for i in range(120)],
            "support_calls": [(i * 3) % 6 for i in range(120)],
        })
        self.customers["churned"] = (self.customers["support_calls"] >= 3).astype(int)
        self.next(self.train)

    @step
    def train(self):
        from sklearn.linear_model import LogisticRegression

        features = ["tenure", "monthly_spend", "support_calls"]
        model = LogisticRegression(max_iter=500).fit(self.customers[features], self.customers["churned"])
        scoring = self.customers.drop(columns=["churned"])[features]
        self.scores = model.predict_proba(scoring)[:, 1].tolist()
        self.next(self.end)

    @step
    def end(self):
        print(len(self.scores))


if __name__ == "__main__":
    ChurnFlow()
