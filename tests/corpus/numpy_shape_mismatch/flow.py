from metaflow import FlowSpec, step


class MatmulFlow(FlowSpec):
    @step
    def start(self):
        self.rows, self.cols = 3, 4
        self.next(self.project)

    @step
    def project(self):
        import numpy as np

        a = np.ones((self.rows, self.cols))
        b = np.ones((self.cols, 2))
        self.product = (a @ b).tolist()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MatmulFlow()
