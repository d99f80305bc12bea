import numpy as np
from metaflow import FlowSpec, step


class ValuesFlow(FlowSpec):
    @step
    def start(self):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(0)
        self.X = rng.random((60, 3))
        self.y = (self.X[:, 0] > 0.5).astype(int)
        self.coef = rng.random((3, 13))
        self.photo = np.zeros((64, 48, 3), dtype=np.uint8)
        self.models = [LogisticRegression().fit(self.X, self.y),
                       RandomForestClassifier(n_estimators=5, random_state=0).fit(self.X, self.y)]
        self.kind = LogisticRegression  # a class: Metaflow saves it as an artifact
        self.next(self.score)

    @step
    def score(self):
        self.scores = [m.score(self.X, self.y) for m in self.models]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ValuesFlow()
