from metaflow import FlowSpec, step


class PriceFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.df = pd.DataFrame({"item": ["a", "b", "c"], "price": [1.0, 2.5, 4.0], "qty": [3, 1, 2]})
        self.next(self.total)

    @step
    def total(self):
        df = self.df
        self.revenue = float((df["price"] * df["qty"]).sum())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PriceFlow()
