import warnings

from metaflow import FlowSpec, step


def from_metaflow():
    """Warns as a library does from code Metaflow runs: stacklevel 3 names the frame that called the
    step function, which is Metaflow's own (metaflow/task.py)."""
    warnings.warn("a deprecation raised inside Metaflow's code", DeprecationWarning, stacklevel=3)


class WarnFlow(FlowSpec):
    @step
    def start(self):
        from_metaflow()
        warnings.warn("the step's own warning", UserWarning, stacklevel=1)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WarnFlow()
