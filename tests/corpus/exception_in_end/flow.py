from metaflow import FlowSpec, step


class ReportFlow(FlowSpec):
    @step
    def start(self):
        self.scores = [0.2, 0.7, 0.9]
        self.next(self.end)

    @step
    def end(self):
        self.best = max(self.scores)
        print(f"best score: {self.best}")


if __name__ == "__main__":
    ReportFlow()
