from metaflow import FlowSpec, step


class InventoryFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(22)
        self.stock = pd.DataFrame({
            "SKU": [f"sku-{i:03d}" for i in range(40)],
            "On Hand": rng.integers(0, 200, size=40),
            "Reorder Point": rng.integers(20, 80, size=40),
        })
        self.next(self.reorder)

    @step
    def reorder(self):
        df = self.stock.copy()
        df.rename(columns={"SKU": "sku", "On Hand": "on_hand", "Reorder Point": "reorder_point"}, inplace=True)
        low = df[df["on_hand"] < df["reorder_point"]]
        self.to_order = low["sku"].tolist()
        self.next(self.end)

    @step
    def end(self):
        print(f"{len(self.to_order)} SKUs to reorder")


if __name__ == "__main__":
    InventoryFlow()
