import os

from metaflow import FlowSpec, step

HERE = os.path.dirname(os.path.abspath(__file__))


class ReportFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(8)
        self.latencies = rng.exponential(scale=120.0, size=1000)
        self.next(self.write_report)

    @step
    def write_report(self):
        import numpy as np

        self.p95 = float(np.percentile(self.latencies, 95))
        self.report_path = os.path.join(HERE, "latency_report.txt")
        with open(self.report_path, "w") as out:
            out.write(f"p95 latency: {self.p95:.1f} ms\n")
        self.next(self.end)

    @step
    def end(self):
        with open(self.report_path) as f:
            print(f.read())


if __name__ == "__main__":
    ReportFlow()
