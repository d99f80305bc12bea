from metaflow import FlowSpec, Parameter, step


class BatchFlow(FlowSpec):
    """Splits the rows into batches of --batch_size."""

    batch_size = Parameter("batch_size", default=4, help="rows per batch")

    @step
    def start(self):
        rows = list(range(10))
        self.batches = [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        self.next(self.end)

    @step
    def end(self):
        print(len(self.batches), "batches")


if __name__ == "__main__":
    BatchFlow()
