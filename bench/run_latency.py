"""Run latency: flowmcp's `run` through a live stdio MCP session vs `python flow.py run`.

Two flows: (a) a trivial 3-step flow, (b) the issue's 7-task flow — pandas loads a table, a
foreach of 4 scikit-learn fits, a join, end. Rounds alternate, CLI then flowmcp, each after the
same edit to the flow file (an agent runs after it edits), medians after one warm-up run on
each side. Also, on the same session: `--no-warm` (every task a new interpreter) for comparison.

    python bench/run_latency.py [--rounds 5] [--flows trivial,sklearn]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchenv import metaflow_env

from tests.support import RawSession

FLOWMCP = [sys.executable, "-m", "flowmcp"]

TRIVIAL = """\
from metaflow import FlowSpec, step


class TrivialFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1  # edit 0
        self.next(self.middle)

    @step
    def middle(self):
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrivialFlow()
"""

SKLEARN = """\
import numpy as np
import pandas as pd
from metaflow import FlowSpec, step
from sklearn.linear_model import LogisticRegression


class ChurnFlow(FlowSpec):
    @step
    def start(self):
        rng = np.random.default_rng(0)  # edit 0
        self.table = pd.DataFrame(rng.normal(size=(2000, 5)), columns=list("abcde"))
        self.table["y"] = (self.table["a"] + rng.normal(size=2000) > 0).astype(int)
        self.grid = [0.01, 0.1, 1.0, 10.0]
        self.next(self.fit, foreach="grid")

    @step
    def fit(self):
        model = LogisticRegression(C=self.input, max_iter=500).fit(self.table[list("abcde")], self.table["y"])
        self.score = float(model.score(self.table[list("abcde")], self.table["y"]))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best)


if __name__ == "__main__":
    ChurnFlow()
"""

FLOWS = {"trivial": ("(a) trivial, 3 tasks", TRIVIAL), "sklearn": ("(b) pandas + scikit-learn, 7 tasks", SKLEARN)}
TARGETS = {"trivial": 0.40, "sklearn": 0.30}  # run / CLI run, from the issue


def edit(flow: Path, tag: str) -> None:
    """Change the flow file (a comment), as an agent's edit would before it runs."""
    flow.write_text(re.sub(r"# edit \S+", f"# edit {tag}", flow.read_text()))


def cli_run(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "flow.py", "--quiet", "--no-pylint", "run"], cwd=root, env=metaflow_env(),
                   check=True, capture_output=True)
    return time.perf_counter() - started


def measure(name: str, rounds: int) -> dict:
    label, source = FLOWS[name]
    root = Path(tempfile.mkdtemp(prefix=f"flowmcp-run-{name}-"))
    (root / "flow.py").write_text(source)
    results = {}
    for mode, extra in (("warm", []), ("cold", ["--no-warm"])):
        session = RawSession([*FLOWMCP, "--root", str(root), *extra], env=metaflow_env())
        session.initialize()

        def ours(session: RawSession = session) -> float:
            started = time.perf_counter()
            answer = session.tool("run", {"flow": "flow.py"})
            assert not answer.get("isError"), answer
            return time.perf_counter() - started

        cli_run(root), ours()  # warm-up, both sides
        cli_times, our_times = [], []
        for i in range(1, rounds + 1):
            edit(root / "flow.py", f"cli-{mode}-{i}")
            cli_times.append(cli_run(root))
            edit(root / "flow.py", f"ours-{mode}-{i}")
            our_times.append(ours())
        session.close()
        results[mode] = statistics.median(our_times) / statistics.median(cli_times)
        results[f"{mode}_cli_s"] = statistics.median(cli_times)
    shutil.rmtree(root, ignore_errors=True)
    return {"flow": label, **results, "target": TARGETS[name]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flows", default="trivial,sklearn")
    args = parser.parse_args()
    rows = [measure(name, args.rounds) for name in args.flows.split(",")]
    print("| flow | warm run / CLI run | target | --no-warm run / CLI run |")
    print("|---|---|---|---|")
    for r in rows:
        ok = "✓" if r["warm"] <= r["target"] else "✗"
        print(f"| {r['flow']} | {r['warm']:.2f} {ok} | ≤ {r['target']:.2f} | {r['cold']:.2f} |")


if __name__ == "__main__":
    main()
