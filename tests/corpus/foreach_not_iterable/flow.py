from metaflow import FlowSpec, step


class FoldsFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(13)
        self.X = rng.normal(size=(120, 2))
        self.y = (self.X.sum(axis=1) > 0).astype(int)
        n_folds = 3
        self.params = list(range(n_folds))
        self.next(self.fold, foreach="params")

    @step
    def fold(self):
        import numpy as np
        from sklearn.tree import DecisionTreeClassifier

        test = np.arange(len(self.y)) % len(self.params) == self.input
        model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(self.X[~test], self.y[~test])
        self.acc = float(model.score(self.X[test], self.y[test]))
        self.next(self.join)

    @step
    def join(self, inputs):
        accs = [i.acc for i in inputs]
        self.mean_acc = sum(accs) / len(accs)
        self.next(self.end)

    @step
    def end(self):
        print(f"cv accuracy {self.mean_acc:.3f}")


if __name__ == "__main__":
    FoldsFlow()
