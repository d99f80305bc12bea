from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown


class CardFlow(FlowSpec):
    @step
    def start(self):
        self.n = 3
        self.next(self.report)

    @card(type="blank")
    @step
    def report(self):
        current.card.append(Markdown(f"# n is {self.n}"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
