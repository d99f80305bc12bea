"""Downstream flow that reads UpstreamStatsFlow's latest successful run through the Client API."""

from metaflow import FlowSpec, Parameter, step


class ClientReadFlow(FlowSpec):
    """
    Like the tutorials' playlist-redux: start loads another flow's artifacts
    with `Flow(...).latest_successful_run`; run other_flow.py first.
    """

    genre = Parameter("genre", help="Genre to look up.", default="sci-fi")

    @step
    def start(self):
        """Pull genre_counts from the upstream flow's latest successful run."""
        from metaflow import Flow, get_metadata

        print(f"Using metadata provider: {get_metadata()}")
        run = Flow("UpstreamStatsFlow").latest_successful_run
        print(f"Using analysis from '{run}'")
        self.upstream_pathspec = run.pathspec
        self.genre_counts = run.data.genre_counts
        self.next(self.lookup)

    @step
    def lookup(self):
        """Use the upstream artifact."""
        self.count = self.genre_counts.get(self.genre, 0)
        self.share = round(self.count / sum(self.genre_counts.values()), 3)
        self.next(self.end)

    @step
    def end(self):
        """Print the answer."""
        print(f"{self.genre}: {self.count} titles ({100 * self.share:.1f}%) per {self.upstream_pathspec}")


if __name__ == "__main__":
    ClientReadFlow()
