from metaflow import FlowSpec, step


class ScheduleFlow(FlowSpec):
    @step
    def start(self):
        self.config = {
            "train": {"lr": 0.01, "warmup_steps": 100, "epochs": 4},
            "data": {"path": "events.csv", "batch_size": 64},
            "seed": 7,
        }
        self.next(self.schedule)

    @step
    def schedule(self):
        train = self.config["train"]
        warmup = self.config["train"]["warmup_steps"]
        self.lrs = [train["lr"] * min(1.0, (s + 1) / warmup) for s in range(0, 400, 50)]
        self.next(self.end)

    @step
    def end(self):
        print(self.lrs[-1])


if __name__ == "__main__":
    ScheduleFlow()
