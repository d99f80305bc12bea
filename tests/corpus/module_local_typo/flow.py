from metaflow import FlowSpec, step


class CreditFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(5)
        self.applicants = pd.DataFrame({
            "income": rng.uniform(20_000, 120_000, size=80).round(),
            "debt": rng.uniform(0, 40_000, size=80).round(),
        })
        self.next(self.enrich)

    @step
    def enrich(self):
        import features

        self.enriched = features.add_ratios(self.applicants)
        self.risky = int((self.enriched["debt_to_income"] > 0.3).sum())
        self.next(self.end)

    @step
    def end(self):
        print(f"{self.risky} risky applicants")


if __name__ == "__main__":
    CreditFlow()
