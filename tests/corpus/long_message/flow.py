from metaflow import FlowSpec, step


class CheckFlow(FlowSpec):
    @step
    def start(self):
        self.ids = list(range(20000))
        self.next(self.check)

    @step
    def check(self):
        self.unique = len(set(self.ids))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CheckFlow()
