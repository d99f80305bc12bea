from metaflow import FlowSpec, step


class EmbedFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        rng = np.random.default_rng(0)
        self.text_vecs = rng.normal(size=(12, 8))
        self.image_vecs = rng.normal(size=(12, 8))
        self.next(self.combine)

    @step
    def combine(self):
        import numpy as np

        text, image = self.text_vecs, self.image_vecs[:, :8]
        stacked = np.vstack([text, image])
        self.norms = np.linalg.norm(stacked, axis=1).round(3).tolist()
        self.next(self.end)

    @step
    def end(self):
        print(len(self.norms))


if __name__ == "__main__":
    EmbedFlow()
