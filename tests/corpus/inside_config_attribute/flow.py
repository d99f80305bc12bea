from metaflow import Config, FlowSpec, step


class TreeFlow(FlowSpec):
    settings = Config("settings", default_value={"model": {"max_depth": 4, "min_samples_leaf": 3},
                                                 "split": {"test_size": 0.25}})

    @step
    def start(self):
        self.rows = [[i % 5, (i * 7) % 11] for i in range(40)]
        self.next(self.train)

    @step
    def train(self):
        depth = self.settings.model.max_depth
        leaf = self.settings.model.min_samples_leaf
        self.params = {"depth": depth, "leaf": leaf, "n": len(self.rows)}
        self.next(self.end)

    @step
    def end(self):
        print(self.params)


if __name__ == "__main__":
    TreeFlow()
