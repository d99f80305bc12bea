import random

from metaflow import FlowSpec, step


class SeedFlow(FlowSpec):
    @step
    def start(self):
        self.base_seed = 100
        self.next(self.sample)

    @step
    def sample(self):
        rng = random.Random(self.base_seed)
        self.draws = [rng.random() for _ in range(3)]
        self.next(self.end)

    @step
    def end(self):
        print(self.draws)


if __name__ == "__main__":
    SeedFlow()
