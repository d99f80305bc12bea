"""Artifact answers: flowmcp's inspect_artifact vs printing the value through Metaflow's client.

A flow makes the issue's three hard cases (a 50 MB bytes blob, a 1e6-element list, a
100,000×13 DataFrame) plus a 1e6 numpy array. Each is read both ways, alternating, medians of
--rounds after a warm-up: `inspect_artifact` over a live MCP session, and a fresh
`python -c "print(repr(Task(...)[name].data))"` — what a naive tool returns.

    python bench/artifacts.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from benchenv import metaflow_env
from mcp import Client, StdioServerParameters

FLOW = '''
import numpy as np
import pandas as pd
from metaflow import FlowSpec, step


class BigFlow(FlowSpec):
    @step
    def start(self):
        self.blob = bytes(50 * 1024 * 1024)
        self.numbers = list(range(1_000_000))
        rng = np.random.default_rng(0)
        self.frame = pd.DataFrame(rng.normal(size=(100_000, 12)), columns=[f"f{i}" for i in range(12)])
        self.frame["label"] = rng.choice(["a", "b", "c"], size=100_000)
        self.array = rng.normal(size=1_000_000)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigFlow()
'''
NAMES = ["blob", "numbers", "frame", "array"]
NAIVE = ("from metaflow import Task, namespace; namespace(None); "
         "print(repr(Task({pathspec!r})[{name!r}].data))")


def naive(root: Path, pathspec: str, name: str) -> tuple[int, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", NAIVE.format(pathspec=pathspec, name=name)], cwd=root,
                         capture_output=True, env=metaflow_env())
    return len(out.stdout), time.perf_counter() - started


async def main(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="flowmcp-artifacts-"))
    (root / "flow.py").write_text(FLOW)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "USER")}
    async with Client(StdioServerParameters(command=sys.executable, args=["-m", "flowmcp", "--root", str(root)],
                                            env=env)) as client:
        run = await client.call_tool("run", {"flow": "flow.py"})
        assert not run.is_error, run.content[0].text
        pathspec = run.structured_content["pathspec"] + "/start"
        rows = []

        async def ours(name: str) -> tuple[int, float, str]:
            started = time.perf_counter()
            result = await client.call_tool("inspect_artifact", {"pathspec": pathspec, "name": name})
            assert not result.is_error, result.content[0].text
            return len(result.content[0].text), time.perf_counter() - started, result.content[0].text

        for name in NAMES:
            _, _, text = await ours(name)  # warm-up both ways
            naive(root, pathspec + "/1", name)
            our_times, naive_times, naive_chars = [], [], 0
            for _ in range(rounds):
                chars, seconds, _ = await ours(name)
                our_times.append(seconds)
                naive_chars, seconds = naive(root, pathspec + "/1", name)
                naive_times.append(seconds)
            rows.append((name, chars, naive_chars, statistics.median(our_times), statistics.median(naive_times),
                         text.splitlines()[0]))
    print("| artifact | flowmcp chars | naive repr chars | flowmcp time / naive time | flowmcp headline |")
    print("|---|---|---|---|---|")
    for name, ours_c, naive_c, ours_t, naive_t, head in rows:
        print(f"| {name} | {ours_c:,} | {naive_c:,} | {ours_t / naive_t:.2f} | {head.split(': ', 1)[1]} |")
    print("\nabsolute flowmcp medians (s): " + ", ".join(f"{r[0]} {r[3]:.2f}" for r in rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    anyio.run(main, parser.parse_args().rounds)
