import io

from metaflow import FlowSpec, Parameter, card, current, step
from metaflow.cards import Image, Markdown, ProgressBar, Table


class PictureFlow(FlowSpec):
    title = Parameter("title", default="Sales by month")

    @step
    def start(self):
        self.values = [3, 1, 4, 1, 5, 9, 2, 6]
        self.next(self.plot)

    @card
    @step
    def plot(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        from PIL import Image as PILImage

        fig, ax = plt.subplots(figsize=(4, 3))
        ax.bar(range(len(self.values)), self.values, color="tab:blue")
        ax.set_title(self.title)
        self.figure = fig
        self.axes = ax
        # every picture depends on the input values, so a spin with other values draws others
        self.gradient = np.linspace(0.0, 1.0, 64 * 96).reshape(64, 96) ** (1 + self.values[0])
        self.rgb = (np.random.RandomState(sum(self.values)).rand(40, 50, 3) * 255).astype("uint8")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.png = buffer.getvalue()
        self.pil = PILImage.new("RGB", (80, 40), (self.values[0] * 20 % 256, 30, 30))
        self.next(self.report)

    @card(type="blank", id="report")
    @step
    def report(self):
        current.card["report"].append(Markdown(f"# {self.title}"))
        current.card["report"].append(Table([[i, v] for i, v in enumerate(self.values)], headers=["month", "sales"]))
        current.card["report"].append(Image.from_matplotlib(self.figure))
        self.next(self.live)

    @card(type="blank", id="live", refresh_interval=1)
    @step
    def live(self):
        bar = ProgressBar(max=3, label="batches")
        current.card["live"].append(Markdown("## Training"))
        current.card["live"].append(bar)
        for done in range(1, 4):
            bar.update(done)
            current.card["live"].refresh()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PictureFlow()
