from metaflow import FlowSpec, step


class EventsFlow(FlowSpec):
    @step
    def start(self):
        self.events = [
            {"user_id": u, "event_type": "click" if u % 3 else "buy", "ts": 1_700_000_000 + 60 * u, "value": u * 1.5}
            for u in range(25)
        ]
        self.next(self.window)

    @step
    def window(self):
        first, last = self.events[0]["ts"], self.events[-1]["ts"]
        self.span_minutes = (last - first) / 60
        self.buys = sum(1 for e in self.events if e["event_type"] == "buy")
        self.next(self.end)

    @step
    def end(self):
        print(self.span_minutes, self.buys)


if __name__ == "__main__":
    EventsFlow()
