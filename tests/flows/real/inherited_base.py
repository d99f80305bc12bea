"""Reusable base FlowSpec: shared Parameter, Config and the start step for inherited_flow.py."""

from metaflow import Config, FlowSpec, Parameter, step


class DataLoadingBase(FlowSpec):
    """
    Base class meant to be subclassed, never run on its own: it owns the
    loading logic (start) and hands off to a `prepare` step the subclass defines.
    """

    sample_size = Parameter("sample_size", help="How many samples start generates.", type=int, default=24)
    loader_config = Config("loader_config", default_value={"seed": 3, "low": 0, "high": 100})

    @step
    def start(self):
        """Generate deterministic integer samples described by loader_config."""
        import random

        rng = random.Random(self.loader_config.seed)
        self.samples = [rng.randint(self.loader_config.low, self.loader_config.high) for _ in range(self.sample_size)]
        print(f"loaded {len(self.samples)} samples in {type(self).__name__}")
        self.next(self.prepare)
