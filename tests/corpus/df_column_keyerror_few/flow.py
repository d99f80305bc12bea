from metaflow import FlowSpec, step


class RegionSalesFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(21)
        self.sales = pd.DataFrame({
            "region": rng.choice(["north", "south", "east", "west"], size=60),
            "price": rng.uniform(5, 30, size=60).round(2),
            "qty": rng.integers(1, 12, size=60),
        })
        self.next(self.revenue)

    @step
    def revenue(self):
        df = self.sales.copy()
        df["revenue"] = df["price"] * df["qty"]
        self.by_region = df.groupby("region")["revenue"].sum().to_dict()
        self.next(self.end)

    @step
    def end(self):
        for region, value in sorted(self.by_region.items()):
            print(region, round(value, 2))


if __name__ == "__main__":
    RegionSalesFlow()
