from metaflow import FlowSpec, step

from checks import require_rows


class FitFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [[1, 2], [2, 3], [3, 5], [4, 4], [5, 6]]
        self.next(self.fit)

    @step
    def fit(self):
        rows = require_rows([r for r in self.rows if r[0] > 1])
        self.slope = (rows[-1][1] - rows[0][1]) / (rows[-1][0] - rows[0][0])
        self.next(self.end)

    @step
    def end(self):
        print(self.slope)


if __name__ == "__main__":
    FitFlow()
