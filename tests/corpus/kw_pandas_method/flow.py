from metaflow import FlowSpec, step


class PricesFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.prices = pd.DataFrame({"day": range(30), "close": [100 + (i * 7) % 11 for i in range(30)]})
        self.next(self.trend)

    @step
    def trend(self):
        prices = self.prices.sort_values("day", ascending=True)
        self.moving = prices["close"].rolling(window=7, min_periods=3).mean().tolist()
        self.next(self.end)

    @step
    def end(self):
        print(self.moving[-1])


if __name__ == "__main__":
    PricesFlow()
