import time


class SlowToLoad:
    """Takes seconds to unpickle: stands in for a huge artifact."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __setstate__(self, state):
        time.sleep(state["seconds"])
        self.__dict__.update(state)
