from metaflow import FlowSpec, catch, step


class ValidateFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(17)
        self.batch = pd.DataFrame({"amount": rng.uniform(1, 500, size=100).round(2),
                                   "currency": ["EUR"] * 100})
        self.next(self.validate)

    @catch(var="error")
    @step
    def validate(self):
        bad = self.batch[self.batch["amount"] <= 0]
        if len(bad):
            raise ValueError(f"{len(bad)} transactions have a non-positive amount")
        self.total = float(self.batch["amount"].sum())
        self.next(self.end)

    @step
    def end(self):
        print("total:", getattr(self, "total", None))


if __name__ == "__main__":
    ValidateFlow()
