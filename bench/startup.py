"""Start-up: process start to the first tools/list answer, flowmcp vs a bare MCP server.

Both are started over stdio by the SDK client, alternating, after one warm-up each; the ratio of
medians is the figure (the bare server is the floor: Python + the mcp SDK with no tools).

    python bench/startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
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


async def first_tools_list(command: list[str]) -> float:
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=command[0], args=command[1:])) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def main(rounds: int) -> None:
    root = tempfile.mkdtemp(prefix="flowmcp-bench-")
    bare = Path(root) / "bare_server.py"
    bare.write_text(BARE)
    commands = {
        "flowmcp": [sys.executable, "-m", "flowmcp", "--root", root],
        "bare mcp server": [sys.executable, str(bare)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm-up: file caches, .pyc
        await first_tools_list(command)
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(await first_tools_list(command))
    ours, floor = statistics.median(times["flowmcp"]), statistics.median(times["bare mcp server"])
    print(f"| server | median start → first tools/list (s), {rounds} rounds |")
    print("|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.3f} |")
    print(f"\nratio flowmcp / bare mcp server: {ours / floor:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    anyio.run(main, parser.parse_args().rounds)
