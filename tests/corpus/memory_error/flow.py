from metaflow import FlowSpec, step


class CoVisitFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(18)
        self.visits = pd.DataFrame({
            "user_id": rng.choice(np.arange(10_000_000, 10_000_300), size=2000),
            "page": rng.integers(0, 50, size=2000),
        })
        self.next(self.co_visits)

    @step
    def co_visits(self):
        import numpy as np

        users = self.visits["user_id"].unique()
        index = {u: i for i, u in enumerate(users)}
        n = len(users)
        pages = np.zeros((n, 50))
        for user, page in zip(self.visits["user_id"], self.visits["page"]):
            pages[index[user], page] += 1
        self.similarity = pages @ pages.T
        self.next(self.end)

    @step
    def end(self):
        print("similarity matrix", self.similarity.shape)


if __name__ == "__main__":
    CoVisitFlow()
