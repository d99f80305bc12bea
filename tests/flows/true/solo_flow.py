from metaflow import FlowSpec, step


class SoloFlow(FlowSpec):
    @step
    def only(self):
        self.answer = 42


if __name__ == "__main__":
    SoloFlow()
