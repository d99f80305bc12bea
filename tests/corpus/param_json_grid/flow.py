from metaflow import FlowSpec, JSONType, Parameter, step


class DepthSearchFlow(FlowSpec):
    """Scores one tree per depth in the grid; pass the grid as JSON."""

    grid = Parameter("grid", type=JSONType, default='{"depth": [2, 3, 4]}', help="search grid")

    @step
    def start(self):
        self.scores = {}
        for depth in self.grid["depth"]:
            self.scores[depth] = 1.0 - 0.1 * depth
        self.next(self.end)

    @step
    def end(self):
        print(max(self.scores, key=self.scores.get))


if __name__ == "__main__":
    DepthSearchFlow()
