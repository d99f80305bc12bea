from metaflow import FlowSpec, step


class TaxFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.df = pd.DataFrame({"item": ["a", "b", "c"], "price": ["1.50", "2.25", "4.00"]})
        self.next(self.markup)

    @step
    def markup(self):
        df = self.df.copy()
        df["price"] = df["price"].astype(float)
        df["with_tax"] = df["price"] * 1.1
        self.total = float(df["with_tax"].sum())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TaxFlow()
