"""Pandas flow whose steps mutate artifacts in place (DataFrame column, list, dict) and reassign one."""

from metaflow import FlowSpec, Parameter, step


class InplaceFlow(FlowSpec):
    """
    start builds a deterministic DataFrame plus a list and a dict artifact;
    add_features mutates the DataFrame in place, bookkeeping mutates the list
    and dict in place, filter_rows reassigns the DataFrame, end summarizes.
    """

    rows = Parameter("rows", help="Number of synthetic rows.", type=int, default=300)

    @step
    def start(self):
        """Build the DataFrame with a fixed seed."""
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(42)
        self.df = pd.DataFrame(
            {
                "customer_id": np.arange(self.rows),
                "region": rng.choice(["north", "south", "east", "west"], size=self.rows),
                "orders": rng.integers(0, 20, size=self.rows),
                "revenue": rng.normal(100.0, 25.0, size=self.rows).round(2),
                "returned": rng.random(self.rows) < 0.1,
            }
        )
        self.seen = ["start"]
        self.stats = {"rows": len(self.df)}
        self.next(self.add_features)

    @step
    def add_features(self):
        """In-place DataFrame mutation: new columns on the loaded artifact."""
        self.df["revenue_per_order"] = self.df["revenue"] / self.df["orders"].clip(lower=1)
        self.df["big_spender"] = self.df["revenue"] > 120.0
        self.next(self.bookkeeping)

    @step
    def bookkeeping(self):
        """In-place list and dict mutation."""
        self.seen.append("add_features")
        self.seen.append("bookkeeping")
        self.stats["big_spenders"] = int(self.df["big_spender"].sum())
        self.stats["mean_revenue"] = round(float(self.df["revenue"].mean()), 2)
        self.next(self.filter_rows)

    @step
    def filter_rows(self):
        """Plain reassignment: a filtered copy replaces the DataFrame."""
        self.df = self.df[~self.df["returned"] & (self.df["orders"] > 0)].reset_index(drop=True)
        self.seen = self.seen + ["filter_rows"]
        self.next(self.end)

    @step
    def end(self):
        """Summarize per region."""
        self.by_region = self.df.groupby("region")["revenue"].sum().round(2).to_dict()
        print(f"kept {len(self.df)} of {self.stats['rows']} rows; steps seen: {self.seen}")
        print(f"stats: {self.stats}")
        print(f"revenue by region: {self.by_region}")


if __name__ == "__main__":
    InplaceFlow()
