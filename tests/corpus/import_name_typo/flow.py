from metaflow import FlowSpec, step


class OrdersFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(3)
        self.orders = pd.DataFrame({
            "price": rng.uniform(1, 50, size=100).round(2),
            "qty": rng.integers(1, 20, size=100),
        })
        self.next(self.featurize)

    @step
    def featurize(self):
        from features import build_features

        self.table = build_features(self.orders)
        self.bulk_share = float(self.table["is_bulk"].mean())
        self.next(self.end)

    @step
    def end(self):
        print(f"bulk orders: {self.bulk_share:.1%}")


if __name__ == "__main__":
    OrdersFlow()
