import functools

from metaflow import FlowSpec, current, retry, step


def fallback(func):
    """A user step decorator: the first attempt's error propagates (so @retry runs the step
    again); the retry falls back and returns without calling self.next."""

    @functools.wraps(func)
    def wrapper(self):
        try:
            return func(self)
        except ValueError:
            if current.retry_count == 0:
                raise
            return None

    return wrapper


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @retry(times=1)
    @step
    @fallback
    def train(self):
        raise ValueError("first attempt breaks")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryFlow()
