from metaflow import FlowSpec, step


class DedupFlow(FlowSpec):
    @step
    def start(self):
        self.ids = list(range(50000))
        self.next(self.check)

    @step
    def check(self):
        ids = self.ids
        assert len(set(ids)) == len(ids), f"duplicates: {ids}"
        self.count = len(ids)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DedupFlow()
