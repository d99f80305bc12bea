"""Flow that inherits start, a Parameter and a Config from a base FlowSpec in inherited_base.py."""

from metaflow import Config, Parameter, step

from inherited_base import DataLoadingBase


class InheritedFlow(DataLoadingBase):
    """
    Adds its own Parameter and Config on top of the inherited ones and defines
    every step after start.
    """

    clip = Parameter("clip", help="Upper clip for samples.", type=int, default=90)
    stats_config = Config("stats_config", default_value={"bins": 4, "precision": 2})

    @step
    def prepare(self):
        """Clip the inherited samples."""
        self.clipped = [min(value, self.clip) for value in self.samples]
        self.next(self.summarize)

    @step
    def summarize(self):
        """Mean and a coarse histogram using both configs."""
        width = (self.loader_config.high - self.loader_config.low + 1) / self.stats_config.bins
        self.histogram = [0] * self.stats_config.bins
        for value in self.clipped:
            index = min(int((value - self.loader_config.low) // width), self.stats_config.bins - 1)
            self.histogram[index] += 1
        self.mean = round(sum(self.clipped) / len(self.clipped), self.stats_config.precision)
        self.next(self.end)

    @step
    def end(self):
        """Print the summary."""
        print(f"mean={self.mean} histogram={self.histogram} (sample_size={self.sample_size})")


if __name__ == "__main__":
    InheritedFlow()
