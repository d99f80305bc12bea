"""Toy ridge-regression flow whose settings come from a JSON Config file next to it."""

from metaflow import Config, FlowSpec, Parameter, retry, step, timeout


class ConfigJsonFlow(FlowSpec):
    """
    Fit a tiny closed-form ridge regression on synthetic rows.

    The JSON config drives both decorator arguments (@timeout, @retry) and
    values read inside the steps (self.config.model.alpha and friends).
    """

    config = Config("config", default="config_json.json")

    noise = Parameter("noise", help="Noise added to the synthetic target.", type=float, default=0.1)

    @timeout(seconds=config.timeout)
    @step
    def start(self):
        """Build a small synthetic dataset from the data section of the config."""
        import random

        rng = random.Random(self.config.data.seed)
        self.features = list(self.config.data.features)
        self.true_weights = [0.5 * (i + 1) for i in range(len(self.features))]
        self.rows = []
        self.targets = []
        for _ in range(self.config.data.n_rows):
            row = [rng.uniform(-1.0, 1.0) for _ in self.features]
            target = sum(w * x for w, x in zip(self.true_weights, row))
            self.rows.append(row)
            self.targets.append(target + rng.gauss(0.0, self.noise))
        print(f"built {len(self.rows)} rows with features {', '.join(self.features)}")
        self.next(self.train)

    @retry(times=config.retries)
    @step
    def train(self):
        """Solve (X'X + alpha I) w = X'y by Gaussian elimination, no numpy needed."""
        alpha = self.config.model.alpha
        k = len(self.features)
        xtx = [[0.0] * k for _ in range(k)]
        xty = [0.0] * k
        for row, target in zip(self.rows, self.targets):
            for i in range(k):
                xty[i] += row[i] * target
                for j in range(k):
                    xtx[i][j] += row[i] * row[j]
        for i in range(k):
            xtx[i][i] += alpha
        self.weights = _solve(xtx, xty)
        self.model_name = self.config.model.name
        print(f"{self.model_name}(alpha={alpha}) weights: {self.weights}")
        self.next(self.end)

    @step
    def end(self):
        """Report the error against the weights used to generate the data."""
        self.max_error = max(abs(w - t) for w, t in zip(self.weights, self.true_weights))
        print(f"max weight error: {self.max_error:.3f}")
        print("full config:", dict(self.config))


def _solve(matrix, vector):
    """Gaussian elimination with partial pivoting on small dense systems."""
    n = len(vector)
    a = [list(matrix[i]) + [vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        acc = a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))
        solution[r] = acc / a[r][r]
    return solution


if __name__ == "__main__":
    ConfigJsonFlow()
