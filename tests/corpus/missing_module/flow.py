from metaflow import FlowSpec, step


class ModelFlow(FlowSpec):
    @step
    def start(self):
        self.X = [[0.0], [1.0], [2.0]]
        self.y = [1.0, 3.0, 5.0]
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.linear_model import LinearRegression

        model = LinearRegression().fit(self.X, self.y)
        self.slope = float(model.coef_[0])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ModelFlow()
