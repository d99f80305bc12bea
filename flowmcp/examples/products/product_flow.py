"""Price per kilogram, one tiny model per product category: the flowmcp demo flow."""

import csv
import os

from metaflow import FlowSpec, Parameter, step


class ProductFlow(FlowSpec):
    ridge = Parameter("ridge", type=float, default=0.1, help="L2 penalty on the slope")

    @step
    def start(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "products.csv")
        with open(path, newline="") as f:
            self.rows = [
                {"category": r["category"], "weight_kg": float(r["weight_kg"]), "price": float(r["price"])}
                for r in csv.DictReader(f)
            ]
        self.categories = sorted({r["category"] for r in self.rows})
        print(f"loaded {len(self.rows)} products in {len(self.categories)} categories")
        self.next(self.train, foreach="categories")

    @step
    def train(self):
        rows = [r for r in self.rows if r["category"] == self.input]
        xs = [r["weight_kg"] for r in rows]
        ys = [r["price"] for r in rows]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
        slope = sxy / (sxx + self.ridge)
        self.model = {"category": self.input, "per_kg": slope, "base": mean_y - slope * mean_x, "n": len(rows)}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.models = {i.model["category"]: i.model for i in inputs}
        self.next(self.end)

    @step
    def end(self):
        for name, m in sorted(self.models.items()):
            print(f"{name}: {m['base']:.2f} + {m['per_kg']:.2f}/kg ({m['n']} products)")


if __name__ == "__main__":
    ProductFlow()
