from metaflow import FlowSpec, step


def total_below(n):
    if n <= 0:
        return 0
    return n + total_below(n - 1)


class SumFlow(FlowSpec):
    @step
    def start(self):
        self.n = 10
        self.next(self.compute)

    @step
    def compute(self):
        self.total = total_below(self.n)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SumFlow()
