from metaflow import FlowSpec, step


class RatesFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.rates = pd.Series({"usd": 1.0, "eur": 0.92, "gbp": 0.79})
        self.next(self.convert)

    @step
    def convert(self):
        self.amount_eur = 100 * self.rates["eur"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RatesFlow()
