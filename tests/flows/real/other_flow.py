"""Upstream flow whose latest successful run client_read_flow.py reads through the Client API."""

from metaflow import FlowSpec, step


class UpstreamStatsFlow(FlowSpec):
    """Compute per-genre counts that a downstream flow consumes."""

    @step
    def start(self):
        """Count titles per genre in a tiny inline table."""
        titles = [
            ("Alien", "sci-fi"),
            ("Heat", "crime"),
            ("Gattaca", "sci-fi"),
            ("Fargo", "crime"),
            ("Up", "animation"),
        ]
        self.genre_counts = {}
        for _, genre in titles:
            self.genre_counts[genre] = self.genre_counts.get(genre, 0) + 1
        self.version = 1
        self.next(self.end)

    @step
    def end(self):
        """Print the counts."""
        print(f"genre counts: {sorted(self.genre_counts.items())}")


if __name__ == "__main__":
    UpstreamStatsFlow()
