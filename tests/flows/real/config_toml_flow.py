"""Batch-scoring flow with a TOML Config read by a parser function and a dict-default Config."""

import os

from metaflow import Config, FlowSpec, config_expr, environment, step


def toml_parser(content):
    """Config parser: Metaflow hands over the file text, we return a dict."""
    import tomllib

    return tomllib.loads(content)


class ConfigTomlFlow(FlowSpec):
    """
    Score a handful of synthetic events in batches.

    `cfg` comes from config_toml.toml through `parser=toml_parser`; `thresholds`
    is a second Config with an inline dict default. The run mode reaches the
    start step as an environment variable through config_expr.
    """

    cfg = Config("cfg", default="config_toml.toml", parser=toml_parser)
    thresholds = Config("thresholds", default_value={"low": 0.25, "high": 0.75, "label": "v1"})

    @environment(
        vars={
            "MODE": config_expr("cfg.mode"),
            "SOURCE_NAME": config_expr("cfg.source.name"),
        }
    )
    @step
    def start(self):
        """Generate events and cut them into batches of cfg.batch_size."""
        self.mode = os.environ.get("MODE")
        self.source_name = os.environ.get("SOURCE_NAME")
        columns = list(self.cfg.source.columns)
        events = [dict(zip(columns, (uid, (uid * 7) % 60, 0.5 + (uid % 5)))) for uid in range(1, 13)]
        size = self.cfg.batch_size
        self.batches = [events[i : i + size] for i in range(0, len(events), size)]
        print(f"mode={self.mode} source={self.source_name}: {len(events)} events in {len(self.batches)} batches")
        self.next(self.score)

    @step
    def score(self):
        """Score each event between 0 and 1 and bucket it by the thresholds config."""
        limits = self.cfg.limits
        self.scored = []
        for batch in self.batches:
            for event in batch:
                if event["minutes"] < limits.min_minutes:
                    continue
                value = min(event["clicks"], limits.max_clicks) / limits.max_clicks
                if value >= self.thresholds.high:
                    bucket = "high"
                elif value >= self.thresholds.low:
                    bucket = "mid"
                else:
                    bucket = "low"
                self.scored.append((event["user_id"], round(value, 3), bucket))
        self.next(self.end)

    @step
    def end(self):
        """Count events per bucket."""
        self.counts = {}
        for _, _, bucket in self.scored:
            self.counts[bucket] = self.counts.get(bucket, 0) + 1
        print(f"thresholds {self.thresholds.label} ({self.mode}): {sorted(self.counts.items())}")


if __name__ == "__main__":
    ConfigTomlFlow()
