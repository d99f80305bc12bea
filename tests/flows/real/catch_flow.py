"""Foreach whose @catch(var="error") body raises for one input, then a join that sorts out the failures."""

from metaflow import FlowSpec, catch, step


class CatchFlow(FlowSpec):
    """
    start -> divide (foreach over divisors, @catch) -> join -> end.
    The divisor 0 raises ZeroDivisionError; @catch records it in `error`
    and the run carries on.
    """

    @step
    def start(self):
        """Pick the numerator and the divisors to fan out over."""
        self.numerator = 60
        self.divisors = [3, 0, 4]
        self.next(self.divide, foreach="divisors")

    @catch(var="error")
    @step
    def divide(self):
        """Foreach body: fails for divisor 0."""
        self.divisor = self.input
        self.quotient = self.numerator / self.divisor
        self.next(self.join)

    @step
    def join(self, inputs):
        """Split successes from caught failures."""
        self.quotients = {}
        self.failed = []
        for inp in inputs:
            if inp.error:
                self.failed.append((inp.input, inp.error.type))
            else:
                self.quotients[inp.divisor] = inp.quotient
        self.next(self.end)

    @step
    def end(self):
        """Print both lists."""
        print(f"quotients: {sorted(self.quotients.items())}")
        print(f"caught: {self.failed}")


if __name__ == "__main__":
    CatchFlow()
