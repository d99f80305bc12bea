from metaflow import FlowSpec, step

from scaling import normalise


class ScaleFlow(FlowSpec):
    @step
    def start(self):
        self.values = [3.0, 4.0, 5.0]
        self.next(self.scale)

    @step
    def scale(self):
        self.scaled = normalise(self.values)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScaleFlow()
