"""Tiny flow with one @pypi step: it needs --environment=pypi, which tests use to check the error."""

from metaflow import FlowSpec, pypi, step


class CondaFlow(FlowSpec):
    """start -> pretty (runs in a @pypi environment with tabulate) -> end."""

    @step
    def start(self):
        """Build a small table."""
        self.rows = [("alpha", 1), ("beta", 2)]
        self.next(self.pretty)

    @pypi(packages={"tabulate": "0.9.0"}, python="3.11")
    @step
    def pretty(self):
        """Format the table with a package installed only in this step's environment."""
        from tabulate import tabulate

        self.table = tabulate(self.rows, headers=["name", "value"])
        print(self.table)
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""
        pass


if __name__ == "__main__":
    CondaFlow()
