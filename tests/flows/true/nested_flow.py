from metaflow import FlowSpec, step


class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.groups = ["x", "y"]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.batches = [1, 2]
        self.next(self.middle, foreach="batches")

    @step
    def middle(self):
        self.items = [10, 20]
        self.next(self.inner, foreach="items")

    @step
    def inner(self):
        self.path = [value for _, _, value in self.foreach_stack()]
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.next(self.join_middle)

    @step
    def join_middle(self, inputs):
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.join_branch)

    @step
    def right(self):
        self.next(self.join_branch)

    @step
    def join_branch(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedFlow()
