import os
import sys

from metaflow import FlowSpec, Parameter, step


class RoughFlow(FlowSpec):
    mode = Parameter("mode", default="ok", help="ok, print, segfault or exit")

    @step
    def start(self):
        if self.mode == "print":
            line = "x" * 1023 + "\n"
            for _ in range(100 * 1024):  # 100 MB
                sys.stdout.write(line)
        elif self.mode == "segfault":
            os.kill(os.getpid(), 11)
        elif self.mode == "exit":
            sys.exit(3)
        self.done = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RoughFlow()
