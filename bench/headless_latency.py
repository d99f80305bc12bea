"""Headless calls: `flowmcp call spin` (a new process per call) vs `python flow.py spin`.

The flows and the edit between spins are those of `spin_latency.py`. Three measures, each
alternating with the plain CLI in the same round:

- after a first call: the project server is running (the first call started it);
- first call: no server running (`flowmcp daemon stop` before each), trivial flow;
- in-process (`--no-daemon`, what `flowmcp call` did before the project server), for reference.

    python bench/headless_latency.py [--rounds 7] [--first-rounds 5] [--flows trivial,sklearn]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spin_latency import FLOWS, cli_spin, edit, env, make_project

FLOWMCP = [sys.executable, "-m", "flowmcp"]
ARGS = '{"flow": "flow.py", "step": "train"}'
TARGETS = {"trivial": 0.30, "sklearn": 0.15}  # after a first call, from the issue
FIRST_TARGET = 1.5


def call_spin(root: Path, *options: str) -> float:
    started = time.perf_counter()
    out = subprocess.run([*FLOWMCP, "call", "spin", "--args", ARGS, "--root", str(root), *options],
                         cwd=root, env=env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"flowmcp call spin failed ({out.returncode}): {out.stdout}{out.stderr}")
    return elapsed


def stop(root: Path) -> None:
    subprocess.run([*FLOWMCP, "daemon", "stop", "--root", str(root)], env=env(), check=True, capture_output=True)


def measure(kind: str, rounds: int, first_rounds: int) -> dict[str, list[float]]:
    root, pathspec = make_project(kind)
    n = 0
    result: dict[str, list[float]] = {k: [] for k in ("cli", "ours", "first_cli", "first", "alone_cli", "alone")}

    def pair(key: str, *options: str, before=None) -> None:
        nonlocal n
        n += 1
        edit(root, n)
        result[f"{key}_cli" if key != "ours" else "cli"].append(cli_spin(root, pathspec))
        if before:
            before()
        n += 1
        edit(root, n)
        result[key].append(call_spin(root, *options))

    try:
        call_spin(root)  # the first call: starts the server
        for _ in range(rounds):
            pair("ours")
        for _ in range(first_rounds):
            pair("first", before=lambda: stop(root))
        for _ in range(max(1, first_rounds // 2)):
            pair("alone", "--no-daemon")
    finally:
        stop(root)
        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--first-rounds", type=int, default=5)
    parser.add_argument("--flows", default="trivial,sklearn")
    args = parser.parse_args()
    print(f"| flow | CLI spin (s) | `flowmcp call spin`, server running (s) | ratio | target | first call, no server: "
          f"ratio | `--no-daemon`: ratio |  (medians; {args.rounds} rounds, {args.first_rounds} first-call rounds)")
    print("|---|---|---|---|---|---|---|")
    for kind in args.flows.split(","):
        r = measure(kind, args.rounds, args.first_rounds)
        med = {k: statistics.median(v) for k, v in r.items() if v}
        first, alone = med["first"] / med["first_cli"], med["alone"] / med["alone_cli"]
        print(f"| {FLOWS[kind][0]} | {med['cli']:.3f} | {med['ours']:.3f} | {med['ours'] / med['cli']:.2f} "
              f"| ≤ {TARGETS.get(kind, 0):.2f} | {first:.2f} (≤ {FIRST_TARGET}) | {alone:.2f} |", flush=True)


if __name__ == "__main__":
    main()
