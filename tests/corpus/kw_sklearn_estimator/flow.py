from metaflow import FlowSpec, step


class ForestFlow(FlowSpec):
    @step
    def start(self):
        self.X = [[i % 7, (i * 3) % 5, i % 2] for i in range(80)]
        self.y = [int(a + b > 5) for a, b, _ in self.X]
        self.next(self.train)

    @step
    def train(self):
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0)
        self.score = model.fit(self.X, self.y).score(self.X, self.y)
        self.next(self.end)

    @step
    def end(self):
        print(self.score)


if __name__ == "__main__":
    ForestFlow()
