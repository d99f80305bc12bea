import numpy as np
from metaflow import FlowSpec, Parameter, step
from sklearn.model_selection import KFold


class FoldsFlow(FlowSpec):
    """Splits the rows into folds; --shuffle shuffles them first."""

    shuffle = Parameter("shuffle", default=True, help="shuffle before splitting")

    @step
    def start(self):
        rows = np.arange(12).reshape(6, 2)
        folds = KFold(n_splits=3, shuffle=self.shuffle, random_state=0 if self.shuffle else None)
        self.sizes = [len(test) for _, test in folds.split(rows)]
        self.next(self.end)

    @step
    def end(self):
        print(self.sizes)


if __name__ == "__main__":
    FoldsFlow()
