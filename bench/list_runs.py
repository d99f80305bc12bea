"""list_runs with many runs: flowmcp's first page vs listing through Metaflow's client, at 100,
1,000 and 10,000 runs of a flow in the local datastore.

Runs are generated cheaply: one real run of a two-step flow, hard-linked N times under new run
ids (each clone's `_self.json` rewritten with its id). Alternating, medians of --rounds.

    python bench/list_runs.py [--rounds 5] [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent.parent))
from benchenv import metaflow_env

from flowmcp.app import App
from flowmcp.server.build import build_server

FLOW = '''
from metaflow import FlowSpec, step


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TinyFlow()
'''
NAIVE = ("from metaflow import Flow, namespace; namespace(None); "
         "runs = list(Flow('TinyFlow')); print([(r.id, r.successful) for r in runs[:10]])")


def grow(root: Path, template: str, have: int, want: int) -> None:
    runs = root / ".metaflow" / "TinyFlow"
    for i in range(have, want):
        new_id = str(int(template) - 1 - i)
        target = runs / new_id
        subprocess.run(["cp", "-al", str(runs / template), str(target)], check=True)
        meta = target / "_meta" / "_self.json"
        data = json.loads(meta.read_text())
        meta.unlink()  # a hard link: write a new file, not through it
        meta.write_text(json.dumps({**data, "run_number": new_id}))


def naive(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", NAIVE], cwd=root, check=True, capture_output=True,
                   env=metaflow_env())
    return time.perf_counter() - started


async def main(rounds: int, sizes: list[int]) -> None:
    root = Path(tempfile.mkdtemp(prefix="flowmcp-list-runs-"))
    (root / "tiny_flow.py").write_text(FLOW)
    env = metaflow_env()
    subprocess.run([sys.executable, "tiny_flow.py", "--quiet", "--no-pylint", "run"], cwd=root, env=env, check=True,
                   capture_output=True)
    template = (root / ".metaflow" / "TinyFlow" / "latest_run").read_text().strip()
    rows, have = [], 1
    async with Client(build_server(App.create(root))) as client:
        async def ours() -> float:
            started = time.perf_counter()
            result = await client.call_tool("list_runs", {"flow": "tiny_flow.py", "limit": 10})
            assert not result.is_error and len(result.structured_content["runs"]) == 10
            return time.perf_counter() - started

        for size in sizes:
            grow(root, template, have - 1, size - 1)
            have = size
            await ours()
            naive(root)  # warm-up both ways
            our_times, naive_times = [], []
            for _ in range(rounds):
                our_times.append(await ours())
                naive_times.append(naive(root))
            rows.append((size, statistics.median(our_times), statistics.median(naive_times)))
    print("| runs | flowmcp first page (s) | Metaflow client, list + status of 10 (s) | ratio |")
    print("|---|---|---|---|")
    for size, ours_s, naive_s in rows:
        print(f"| {size:,} | {ours_s:.2f} | {naive_s:.2f} | {ours_s / naive_s:.2f} |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    anyio.run(main, args.rounds, [int(s) for s in args.sizes.split(",")])
