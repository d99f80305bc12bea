from metaflow import FlowSpec, step


class StoresFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.sales = pd.DataFrame({
            "store": [f"s{i % 6}" for i in range(300)],
            "region": [["north", "south", "east"][i % 3] for i in range(300)],
            "units": [(i * 13) % 40 for i in range(300)],
            "unit_price": [2.5 + (i % 7) for i in range(300)],
        })
        self.next(self.summarize)

    @step
    def summarize(self):
        sales = self.sales.assign(revenue=self.sales["units"] * self.sales["unit_price"])
        by_region = sales.groupby("region")["revenue"].sum()
        self.top_region = by_region.idxmax()
        self.next(self.end)

    @step
    def end(self):
        print(self.top_region)


if __name__ == "__main__":
    StoresFlow()
