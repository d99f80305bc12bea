from metaflow import FlowSpec, step


class StoreMetricsFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(42)
        n = 120
        data = {
            "store_id": np.arange(n),
            "region": rng.choice(["north", "south", "east", "west"], size=n),
            "channel": rng.choice(["web", "shop"], size=n),
        }
        for name in ["visits", "orders", "returns", "revenue", "cost", "margin", "staff", "sqm",
                     "ads", "promo", "rating", "wait_min", "stock", "churn", "nps", "age_days", "tickets"]:
            data[name] = rng.uniform(0, 100, size=n).round(1)
        self.stores = pd.DataFrame(data)
        self.next(self.aggregate)

    @step
    def aggregate(self):
        df = self.stores
        summary = df.groupby("region")[["revenue", "cost", "visits"]].sum()
        summary["profit"] = summary["revenue"] - summary["cost"]
        self.summary = summary
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    StoreMetricsFlow()
