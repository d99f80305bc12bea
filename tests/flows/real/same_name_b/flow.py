"""Playlist flow (redux): same class name as same_name_a, linear steps ranking movies by gross."""

from metaflow import FlowSpec, Parameter, step

MOVIES = [
    ("Alien", "Horror|Sci-Fi", 78.9),
    ("The Matrix", "Action|Sci-Fi", 171.4),
    ("Arrival", "Drama|Mystery|Sci-Fi", 100.5),
    ("Moon", "Drama|Mystery|Sci-Fi", 5.0),
    ("Interstellar", "Adventure|Drama|Sci-Fi", 188.0),
    ("Heat", "Action|Crime|Drama", 67.4),
    ("Up", "Adventure|Animation|Comedy", 293.0),
    ("Ratatouille", "Animation|Comedy|Family", 206.4),
]


class PlaylistFlow(FlowSpec):
    """
    Same class name as same_name_a/flow.py, different steps:
    start -> rank -> shortlist -> end, no branches, no IncludeFile.
    """

    genre = Parameter("genre", help="Genre to build the playlist from.", default="Sci-Fi")
    recommendations = Parameter("recommendations", help="Playlist length.", type=int, default=3)

    @step
    def start(self):
        """Keep the movies of the requested genre."""
        self.candidates = [m for m in MOVIES if self.genre.lower() in m[1].lower()]
        self.next(self.rank)

    @step
    def rank(self):
        """Rank by gross, best first."""
        self.ranked = sorted(self.candidates, key=lambda m: m[2], reverse=True)
        self.quartile_cut = self.ranked[len(self.ranked) // 4][2] if self.ranked else 0.0
        self.next(self.shortlist)

    @step
    def shortlist(self):
        """Top titles at or above the top-quartile cut."""
        top = [title for title, _, gross in self.ranked if gross >= self.quartile_cut]
        self.playlist = top[: self.recommendations]
        self.next(self.end)

    @step
    def end(self):
        """Print the playlist."""
        print(f"Playlist for movies in genre '{self.genre}'")
        for pick, movie in enumerate(self.playlist, start=1):
            print(f"Pick {pick}: '{movie}'")


if __name__ == "__main__":
    PlaylistFlow()
