import numpy as np
from metaflow import FlowSpec, Parameter, step
from sklearn.ensemble import RandomForestClassifier


class ForestFlow(FlowSpec):
    """Fits a small forest of --n_trees trees."""

    n_trees = Parameter("n_trees", default=20, help="trees in the forest")

    @step
    def start(self):
        n = self.n_trees
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
        model = RandomForestClassifier(n_estimators=n, random_state=0)
        self.accuracy = model.fit(X, y).score(X, y)
        self.next(self.end)

    @step
    def end(self):
        print(self.accuracy)


if __name__ == "__main__":
    ForestFlow()
