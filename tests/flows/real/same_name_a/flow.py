"""Playlist flow (first version): IncludeFile CSV, branch into genre picks and a bonus pick, join."""

import os

from metaflow import FlowSpec, IncludeFile, Parameter, step


def script_path(filename):
    """Path of a file next to this flow, so it can be launched from anywhere."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)


class PlaylistFlow(FlowSpec):
    """
    Same class name as same_name_b/flow.py, different steps:
    start -> (bonus_movie, genre_movies) -> join -> end.
    """

    movie_data = IncludeFile("movie_data", help="Movie metadata CSV.", default=script_path("movies.csv"))
    genre = Parameter("genre", help="Genre to build the playlist from.", default="Sci-Fi")
    recommendations = Parameter("recommendations", help="Playlist length.", type=int, default=3)

    @step
    def start(self):
        """Parse the included CSV into a dict of columns."""
        import csv

        columns = ["movie_title", "genres"]
        self.dataframe = {col: [] for col in columns}
        for row in csv.DictReader(self.movie_data.splitlines()):
            for col in columns:
                self.dataframe[col].append(row[col])
        self.next(self.bonus_movie, self.genre_movies)

    @step
    def bonus_movie(self):
        """Pick a (seeded) random movie outside the genre."""
        import random

        movies = [
            (title, genres)
            for title, genres in zip(self.dataframe["movie_title"], self.dataframe["genres"])
            if self.genre.lower() not in genres.lower()
        ]
        self.bonus = random.Random(7).choice(movies)
        self.next(self.join)

    @step
    def genre_movies(self):
        """All movies of the genre, shuffled with a fixed seed."""
        import random

        self.movies = [
            title
            for title, genres in zip(self.dataframe["movie_title"], self.dataframe["genres"])
            if self.genre.lower() in genres.lower()
        ]
        random.Random(7).shuffle(self.movies)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Take the playlist and the bonus from their branches."""
        self.playlist = inputs.genre_movies.movies
        self.bonus = inputs.bonus_movie.bonus
        self.next(self.end)

    @step
    def end(self):
        """Print the playlist."""
        print(f"Playlist for movies in genre '{self.genre}'")
        for pick, movie in enumerate(self.playlist[: self.recommendations], start=1):
            print(f"Pick {pick}: '{movie}'")
        title, genres = self.bonus
        print(f"Bonus Pick: '{title}' from '{genres}'")


if __name__ == "__main__":
    PlaylistFlow()
