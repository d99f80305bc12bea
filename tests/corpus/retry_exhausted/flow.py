from metaflow import FlowSpec, retry, step


class ExportFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(16)
        self.scores = pd.DataFrame({"user": np.arange(50), "score": rng.uniform(size=50).round(3)})
        self.config = {"export_top": 10, "min_score": 0.2}
        self.next(self.export)

    @retry(times=1, minutes_between_retries=0)
    @step
    def export(self):
        top_n = self.config["export_top"]
        eligible = self.scores[self.scores["score"] >= self.config["min_score"]]
        self.top_users = eligible.nlargest(top_n, "score")["user"].tolist()
        self.next(self.end)

    @step
    def end(self):
        print("top users:", self.top_users)


if __name__ == "__main__":
    ExportFlow()
