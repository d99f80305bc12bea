from metaflow import FlowSpec, JSONType, Parameter, step


class GridSearchFlow(FlowSpec):
    """Fits one small tree per depth in the grid, then keeps the best."""

    grid = Parameter("grid", type=JSONType, default='{"depth": [2, 3, 4]}', help="search grid as JSON")

    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(3)
        self.X = rng.normal(size=(120, 3))
        self.y = (self.X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
        self.depths = list(self.grid["depth"])
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.tree import DecisionTreeClassifier

        scores = {d: DecisionTreeClassifier(max_depth=d, random_state=0).fit(self.X, self.y).score(self.X, self.y)
                  for d in self.depths}
        self.best_depth = max(scores, key=scores.get)
        self.next(self.end)

    @step
    def end(self):
        print("best depth", self.best_depth)


if __name__ == "__main__":
    GridSearchFlow()
