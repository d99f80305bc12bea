from metaflow import FlowSpec, step


class GridFlow(FlowSpec):
    @step
    def start(self):
        self.bounds = (0.0, 2.0)
        self.next(self.grid)

    @step
    def grid(self):
        import numpy as np

        lo, hi = self.bounds
        xs = np.linspace(lo, hi, num=21, endpoint=True)
        self.area = float(np.trapezoid(xs ** 2, xs))
        self.next(self.end)

    @step
    def end(self):
        print(self.area)


if __name__ == "__main__":
    GridFlow()
