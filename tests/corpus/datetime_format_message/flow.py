from metaflow import FlowSpec, step


class SignupsFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        days = pd.date_range("2024-03-01", periods=40, freq="D")
        self.events = pd.DataFrame({
            "when": [d.strftime("%m/%d/%Y") for d in days],  # as exported by the CRM
            "signups": [(i * 7) % 23 + 5 for i in range(40)],
        })
        self.next(self.weekly)

    @step
    def weekly(self):
        import pandas as pd

        df = self.events.copy()
        df["when"] = pd.to_datetime(df["when"], format="%m/%d/%Y")
        self.weekly_signups = df.set_index("when")["signups"].resample("W").sum()
        self.next(self.end)

    @step
    def end(self):
        print(self.weekly_signups)


if __name__ == "__main__":
    SignupsFlow()
