"""Orphans after cancelled runs: cancel N runs of a sleeping flow (half with cancel_run on a
background run, half by the client abandoning the call), then count the processes left.

    python bench/cancellations.py [--runs 50]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent.parent))
from flowmcp.app import App
from flowmcp.server.build import build_server
from tests.support import processes_under

FLOW = Path(__file__).parent.parent / "tests" / "flows" / "sleepy_flow.py"


async def main(runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="flowmcp-cancel-"))
    shutil.copy(FLOW, root / FLOW.name)
    started = time.monotonic()
    async with Client(build_server(App.create(root)), mode="legacy") as client:
        for i in range(runs):
            if i % 2:
                result = await client.call_tool("run", {"flow": FLOW.name, "wait": False})
                await anyio.sleep(0.5)
                await client.call_tool("cancel_run", {"pathspec": result.structured_content["pathspec"]})
            else:
                with anyio.move_on_after(1.5):
                    await client.call_tool("run", {"flow": FLOW.name})
        await anyio.sleep(2)
        left = processes_under(root)
        alive = not (await client.call_tool("list_runs", {"flow": FLOW.name})).is_error
    print(f"{runs} cancelled runs in {time.monotonic() - started:.0f} s; processes left: {len(left)}; "
          f"server still answering: {alive}")
    for line in left:
        print("  ", line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    anyio.run(main, parser.parse_args().runs)
