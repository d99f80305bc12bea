import sys

from metaflow import FlowSpec, step


class ValidateFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [1, 2, 3]
        self.next(self.validate)

    @step
    def validate(self):
        if not self.rows:
            print("no rows", file=sys.stderr)
        self.ok = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ValidateFlow()
