"""Branch/join with merge_artifacts, then a foreach whose join aggregates the split results."""

from metaflow import FlowSpec, step


class MergeFlow(FlowSpec):
    """
    start -> (left, right) -> join -> fan_out -> square (foreach) -> collect -> end

    `dataset_name` is set in start and only reaches `join` through
    merge_artifacts; `score` is picked from one branch explicitly; `tag`
    conflicts between the branches and is excluded from the merge.
    """

    @step
    def start(self):
        """Set an artifact that must travel two steps down through the merge."""
        self.dataset_name = "clicks-2024"
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        """One branch: same `unit` as right, its own `score` and `tag`."""
        self.unit = "ms"
        self.score = self.base * 2
        self.tag = "left"
        self.left_only = [1, 2, 3]
        self.next(self.join)

    @step
    def right(self):
        """Other branch: conflicting `score` and `tag`."""
        self.unit = "ms"
        self.score = self.base * 3
        self.tag = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        """Resolve `score` by hand, drop `tag`, merge the rest."""
        self.score = inputs.left.score
        self.tags = sorted(inp.tag for inp in inputs)
        self.merge_artifacts(inputs, exclude=["tag"])
        print(
            f"dataset={self.dataset_name} unit={self.unit} score={self.score} "
            f"left_only={self.left_only} tags={self.tags}"
        )
        self.next(self.fan_out)

    @step
    def fan_out(self):
        """Prepare a small list to fan out over."""
        self.numbers = [self.score // 10, self.score // 5, self.score // 4]
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        """Foreach body: square one number."""
        self.result = self.input * self.input
        self.next(self.collect)

    @step
    def collect(self, inputs):
        """Foreach join: aggregate the split results."""
        self.results = [i.result for i in inputs]
        self.total = sum(self.results)
        self.dataset_name = inputs[0].dataset_name
        self.next(self.end)

    @step
    def end(self):
        """Print the aggregate."""
        print(f"{self.dataset_name}: results={sorted(self.results)} total={self.total}")


if __name__ == "__main__":
    MergeFlow()
