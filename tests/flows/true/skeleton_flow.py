from metaflow import Config, FlowSpec, step


def raw(text):
    return {"raw": text}


class SkeletonFlow(FlowSpec):
    git_info = Config("git_info", default_value="", parser=raw)

    @step
    def start(self):
        """Load the data."""
        self.next(self.train)

    @step
    def train(self):
        """Fit the model."""
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SkeletonFlow()
