from metaflow import FlowSpec, step


class SalesFlow(FlowSpec):
    @step
    def start(self):
        import random

        random.seed(11)
        self.daily_sales = [round(random.uniform(100, 500), 2) for _ in range(30)]
        self.next(self.summarize)

    @step
    def summarize(self):
        total = sum(self.daily_sales)
        days = len(self.daily_sales)
        self.average = total / days
        self.best_day = max(range(days), key=lambda d: self.daily_sales[d])
        self.next(self.end)

    @step
    def end(self):
        print(f"average {self.average:.2f}, best day {self.best_day}")


if __name__ == "__main__":
    SalesFlow()
