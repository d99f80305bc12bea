from metaflow import FlowSpec, catch, retry, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b", "c"]
        self.next(self.body, foreach="letters")

    @catch(var="err")
    @retry(times=1)
    @step
    def body(self):
        self.val = self.input * 2
        print("working on", self.input)
        if self.input == "b":
            raise ValueError("bad split " + self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.report = {f"{i.input}{n}": getattr(i, "val", None) for i in inputs for n in range(3)}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachFlow()
