"""Start-up: process start to the first tools/list answer, flowmcp vs a bare MCP server and vs
the previous release of flowmcp (its source from git, run with the same interpreter and packages).

All are started over stdio by the SDK client, alternating, after one warm-up each; the ratios of
medians are the figures (the bare server is the floor: Python + the mcp SDK with no tools).

    python bench/startup.py [--rounds 7] [--against v0.1.0]
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
from mcp import Client, StdioServerParameters

BARE = """
from mcp.server.mcpserver import MCPServer
MCPServer("bare").run("stdio")
"""


async def first_tools_list(command: list[str], cwd: str | None = None, env: dict | None = None) -> float:
    started = time.perf_counter()
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=cwd, env=env)
    async with Client(params) as client:
        await client.list_tools()
        return time.perf_counter() - started


def checkout(rev: str, folder: Path) -> None:
    """The `flowmcp` package as it was at `rev` (e.g. the previous release's tag)."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "flowmcp", "prompts", "CLAUDE.md.template"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


async def main(rounds: int, against: str) -> None:
    root = tempfile.mkdtemp(prefix="flowmcp-bench-")
    bare = Path(root) / "bare_server.py"
    bare.write_text(BARE)
    previous = Path(tempfile.mkdtemp(prefix="flowmcp-previous-"))
    checkout(against, previous)
    # `python -m flowmcp` run from the checkout imports it (the folder comes first on sys.path).
    previous_env = {**os.environ, "PYTHONPATH": str(previous)}
    runs = {
        "flowmcp (this version)": ([sys.executable, "-m", "flowmcp", "--root", root], None, None),
        f"flowmcp {against}": ([sys.executable, "-m", "flowmcp", "--root", root], str(previous), previous_env),
        "bare mcp server": ([sys.executable, str(bare)], None, None),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for command, cwd, env in runs.values():  # warm-up: file caches, .pyc
        await first_tools_list(command, cwd, env)
    for _ in range(rounds):
        for name, (command, cwd, env) in runs.items():
            times[name].append(await first_tools_list(command, cwd, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["flowmcp (this version)"]
    print(f"| server | median start → first tools/list (s), {rounds} rounds |")
    print("|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.3f} |")
    print(f"\nratio this version / {against}: {ours / medians[f'flowmcp {against}']:.2f}")
    print(f"ratio this version / bare mcp server: {ours / medians['bare mcp server']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", default="v0.1.0", help="git revision of the previous release")
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.against)
