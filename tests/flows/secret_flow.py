import os

from metaflow import FlowSpec, Parameter, card, current, step
from metaflow.cards import Markdown


class SecretFlow(FlowSpec):
    """A careless step: it prints, keeps, draws and raises the warehouse token."""

    leak = Parameter("leak", type=bool, default=False)

    @card(type="blank")
    @step
    def start(self):
        token = os.environ["WAREHOUSE_API_TOKEN"]
        self.config = {"url": "https://db.example/?token=" + token, "tokens": [token]}
        self.note = token
        current.card.append(Markdown("connecting with " + token))
        print("token is", repr(token))
        if self.leak:
            raise ValueError(f"bad token {token!r}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecretFlow()
