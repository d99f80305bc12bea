"""view_card against looking at the same card by hand, and the bytes of its pictures.

A run of the test flow `tests/flows/picture_flow.py` renders three cards: the default card (a
long page), a blank card with Markdown, a Table and a matplotlib Image, and a card with
refresh_interval. For each, alternating, medians of --rounds after one warm-up on each side:

- `view_card` over a live MCP session (stdio, the `flowmcp` command), first screen;
- by hand: the card's HTML written to a file, then `chromium --headless --screenshot` of it at the
  same size — what a person (or a script) does to look at a card. It gets a PNG and no more: no
  wait for the card's scripts beyond Chromium's own load event, no bound on the size.

    python bench/view_card.py [--rounds 7] [--browser PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from benchenv import metaflow_env
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
FLOW = HERE.parent / "tests" / "flows" / "picture_flow.py"
STEPS = {"plot": "default card (long page)", "report": "Markdown + Table + matplotlib Image",
         "live": "refresh_interval card"}


def by_hand(browser: str, html: str, out: Path) -> float:
    page = out.with_suffix(".html")
    page.write_text(html)
    flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={out.parent / 'profile'}",
             f"--screenshot={out}", "--window-size=1000,900", page.as_uri()]
    if os.geteuid() == 0:
        flags.insert(0, "--no-sandbox")
    started = time.perf_counter()
    subprocess.run([browser, *flags], capture_output=True, check=True, timeout=120)
    return time.perf_counter() - started


async def main(rounds: int, browser: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-view-card-"))
    shutil.copy(FLOW, work / FLOW.name)
    env = metaflow_env()
    params = StdioServerParameters(command=sys.executable, args=["-m", "flowmcp", "--root", str(work),
                                                                 "--browser", browser], env=env, cwd=str(work))
    async with Client(params) as client:
        run = await client.call_tool("run", {"flow": FLOW.name})
        pathspec = run.structured_content["pathspec"]
        rows = []
        for step, what in STEPS.items():
            uri = None
            ours, theirs = [], []
            for i in range(rounds + 1):
                started = time.perf_counter()
                result = await client.call_tool("view_card", {"pathspec": f"{pathspec}/{step}"})
                took = time.perf_counter() - started
                assert not result.is_error, result.content[0].text
                uri = result.structured_content["uri"]
                html = (await client.read_resource(uri)).contents[0].text
                hand = await anyio.to_thread.run_sync(by_hand, browser, html, work / f"{step}-{i}.png")
                if i:  # the first round warms both sides up
                    ours.append(took)
                    theirs.append(hand)
            full = await client.call_tool("view_card", {"pathspec": f"{pathspec}/{step}", "full_page": True})
            first = result.structured_content
            whole = full.structured_content
            hand_bytes = (work / f"{step}-{rounds}.png").stat().st_size
            rows.append((what, statistics.median(ours), statistics.median(theirs), first["image_bytes"],
                         whole["image_bytes"], whole["images"], whole["page_height"], hand_bytes))
    print(f"view_card vs chromium --headless --screenshot, medians of {rounds} rounds (after one warm-up)")
    print("| card | view_card / by hand | first screen bytes | full page: bytes, pictures, page px | by hand bytes |")
    print("|---|---|---|---|---|")
    for what, ours, theirs, first_bytes, whole_bytes, pictures, height, hand_bytes in rows:
        print(f"| {what} | {ours / theirs:.2f} | {first_bytes / 1024:,.0f} KB | {whole_bytes / 1024:,.0f} KB, "
              f"{pictures}, {height} | {hand_bytes / 1024:,.0f} KB |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--browser", default=shutil.which("chromium") or shutil.which("google-chrome"))
    args = parser.parse_args()
    if not args.browser:
        sys.exit("no browser: pass --browser PATH")
    anyio.run(main, args.rounds, args.browser)
