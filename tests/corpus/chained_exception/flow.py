from metaflow import FlowSpec, step


class LoadFlow(FlowSpec):
    @step
    def start(self):
        self.raw = "42"
        self.next(self.load)

    @step
    def load(self):
        try:
            self.count = int(self.raw)
        except ValueError as ex:
            raise RuntimeError("loading failed") from ex
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LoadFlow()
