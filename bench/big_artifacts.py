"""inspect_artifact on 50 MB, 500 MB and 1 GB artifacts: time and the server's peak memory, vs
loading the value with Metaflow's client in a fresh process (what a naive server does in its own).

Alternating, medians of --rounds; the server is the stdio `flowmcp` command, its peak RSS read
from /proc (VmHWM) after all calls.

    python bench/big_artifacts.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from benchenv import metaflow_env

from tests.support import RawSession

FLOW = '''
from metaflow import FlowSpec, step


class BigFlow(FlowSpec):
    @step
    def start(self):
        self.mb50 = bytes(50 * 2**20)
        self.mb500 = bytes(500 * 2**20)
        self.gb1 = bytes(2**30)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigFlow()
'''
NAIVE = ("import resource; from metaflow import Task, namespace; namespace(None); "
         "v = Task({pathspec!r})[{name!r}].data; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def main(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="flowmcp-big-"))
    (root / "flow.py").write_text(FLOW)
    env = metaflow_env()
    server = RawSession([sys.executable, "-m", "flowmcp", "--root", str(root)], stderr=subprocess.DEVNULL)
    server.initialize()
    run = server.tool("run", {"flow": "flow.py"})
    assert not run.get("isError"), run["content"][0]["text"]
    pathspec = run["structuredContent"]["pathspec"] + "/start/1"
    rows = []
    for name, label in (("mb50", "50 MB"), ("mb500", "500 MB"), ("gb1", "1 GB")):
        ours, naive, naive_peak = [], [], 0.0
        for _ in range(rounds):
            started = time.perf_counter()
            answer = server.tool("inspect_artifact", {"pathspec": pathspec, "name": name})
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", NAIVE.format(pathspec=pathspec, name=name)], cwd=root,
                                 env=env, capture_output=True, text=True, check=True)
            naive.append(time.perf_counter() - started)
            naive_peak = max(naive_peak, int(out.stdout.strip()) / 1024)
        rows.append((label, statistics.median(ours), statistics.median(naive), naive_peak,
                     answer["content"][0]["text"].split(": ", 1)[1].splitlines()[0]))
    peak = server.peak_rss_mb()
    server.proc.kill()
    print("| artifact | inspect_artifact (s) | naive client load (s) | ratio | naive process peak RSS (MB) | answer |")
    print("|---|---|---|---|---|---|")
    for label, ours_s, naive_s, naive_mb, head in rows:
        print(f"| {label} | {ours_s:.2f} | {naive_s:.2f} | {ours_s / naive_s:.2f} | {naive_mb:,.0f} | {head} |")
    print(f"\nflowmcp server peak RSS over all calls: {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)
