import csv
import io

from metaflow import FlowSpec, step

from stats import zscores

DATA = "city,temp\nOslo,4.5\nRome,18.0\nCairo,27.5\n"


class WeatherFlow(FlowSpec):
    @step
    def start(self):
        self.rows = list(csv.DictReader(io.StringIO(DATA)))
        self.next(self.normalise)

    @step
    def normalise(self):
        self.z = zscores([float(r["temp"]) for r in self.rows])
        self.next(self.end)

    @step
    def end(self):
        print(self.z)


if __name__ == "__main__":
    WeatherFlow()
