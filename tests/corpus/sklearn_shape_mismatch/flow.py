from metaflow import FlowSpec, step


class PredictFlow(FlowSpec):
    @step
    def start(self):
        self.X = [[1.0, 2.0, 3.0], [2.0, 1.0, 0.0], [0.0, 1.0, 1.0], [3.0, 3.0, 1.0]]
        self.y = [1.0, 2.0, 3.0, 4.0]
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.linear_model import LinearRegression

        model = LinearRegression().fit(self.X, self.y)
        self.pred = model.predict([row[:3] for row in self.X]).tolist()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PredictFlow()
