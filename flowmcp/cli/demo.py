"""`flowmcp demo`: an agent's inner loop on the bundled example, through a real MCP session.

Copies `examples/products` into a fresh folder, starts `flowmcp` over stdio as a client would,
and walks: run → break a step → spin (the failure answer) → fix → spin → spin with injected
artifacts → inspect_artifact → list_runs. Prints every call and what the agent sees; exits 0
only if every step behaved as it should.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from ..app import doctor

EXAMPLE = Path(__file__).parent.parent / "examples" / "products"
FLOW = "product_flow.py"
BUG = ("rows = [r for r in self.rows if", "rows = [r for r in self.row if")
INJECTED_ROWS = [
    {"category": "books", "weight_kg": 1.0, "price": 10.0},
    {"category": "books", "weight_kg": 2.0, "price": 20.0},
    {"category": "books", "weight_kg": 3.0, "price": 30.0},
]


def prepare(target: str | None) -> Path:
    """Copy the example into `target` (new or empty) or a new temporary folder; never overwrite."""
    folder = Path(target).expanduser().resolve() if target else Path(tempfile.mkdtemp(prefix="flowmcp-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    clashes = [p.name for p in EXAMPLE.iterdir() if (folder / p.name).exists()]
    if clashes:
        raise SystemExit(f"flowmcp demo: {folder} already has {', '.join(clashes)}; choose an empty --dir")
    for path in EXAMPLE.iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)
    return folder


class Walk:
    """Calls tools, prints what the agent sees, and records whether each step behaved."""

    def __init__(self, client: Any):
        self.client = client
        self.failures: list[str] = []
        self.number = 0

    async def call(self, why: str, tool: str, args: dict[str, Any], expect: Callable[[Any], str | None]) -> Any:
        self.number += 1
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        print(f"\n── {self.number}. {why}\n   {tool}({shown})")
        result = await self.client.call_tool(tool, args)
        text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        flag = " is_error" if result.is_error else ""
        print(f"   agent sees ({len(text):,} chars{flag}):")
        print(textwrap.indent(text, "   │ "))
        problem = expect(result)
        if problem:
            self.failures.append(f"{self.number}. {why}: {problem}")
            print(f"   ✗ {problem}")
        else:
            print("   ✓ as expected")
        return result


def _ok(result: Any) -> str | None:
    return "the call failed" if result.is_error else None


async def walk(folder: Path, python: str | None) -> list[str]:
    from mcp import Client, StdioServerParameters

    args = ["-m", "flowmcp", "--root", str(folder)] + (["--python", python] if python else [])
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "USER", "LANG", "VIRTUAL_ENV", "TMPDIR",
                                                         "METAFLOW_USER", "LOGNAME")}
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(folder))
    async with Client(params) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        print(f"flowmcp serves: {', '.join(tools)}")
        w = Walk(client)
        flow_file = folder / FLOW
        run = await w.call("Record a first run, so every step has state to spin from", "run", {"flow": FLOW}, _ok)
        pathspec = (run.structured_content or {}).get("pathspec")

        source = flow_file.read_text()
        flow_file.write_text(source.replace(*BUG))
        print(f"\n   (the agent edits {FLOW}: `self.rows` becomes `self.row` in train)")

        def names_the_typo(result: Any) -> str | None:
            text = result.content[0].text
            if not result.is_error:
                return "a broken step must answer is_error"
            for needle in ("AttributeError", "product_flow.py:", "self.rows"):
                if needle not in text:
                    return f"the answer does not mention {needle!r}"
            return None

        await w.call("Spin the broken step: the answer points at the line and suggests the fix", "spin",
                     {"flow": FLOW, "step": "train"}, names_the_typo)

        flow_file.write_text(source)
        print("\n   (the agent fixes the typo)")

        def has_model(result: Any) -> str | None:
            names = [a["name"] for a in (result.structured_content or {}).get("artifacts", [])]
            return _ok(result) or (None if "model" in names else f"expected artifact 'model', got {names}")

        await w.call("Spin the fixed step: it works and shows what it set", "spin", {"flow": FLOW, "step": "train"},
                     has_model)
        await w.call("Spin it on three hand-made rows (injected artifacts)", "spin",
                     {"flow": FLOW, "step": "train", "artifacts": {"rows": INJECTED_ROWS}}, has_model)

        def is_dict_of_four(result: Any) -> str | None:
            summary = (result.structured_content or {}).get("summary", "")
            return _ok(result) or (None if "dict" in summary and "4" in summary else f"unexpected summary {summary!r}")

        await w.call("Inspect the joined models without printing them", "inspect_artifact",
                     {"pathspec": f"{pathspec}/join", "name": "models"}, is_dict_of_four)
        await w.call("Drill into one value", "inspect_artifact",
                     {"pathspec": f"{pathspec}/join", "name": "models", "path": '["books"]["per_kg"]'}, _ok)

        def typo_suggests(result: Any) -> str | None:
            text = result.content[0].text
            return None if result.is_error and "models" in text else "a wrong name must suggest 'models'"

        await w.call("A typo in an artifact name gets a did-you-mean", "inspect_artifact",
                     {"pathspec": f"{pathspec}/join", "name": "modles"}, typo_suggests)

        def lists_the_run(result: Any) -> str | None:
            runs = (result.structured_content or {}).get("runs", [])
            ok = any(r["pathspec"] == pathspec and r["status"] == "succeeded" for r in runs)
            return _ok(result) or (None if ok else f"{pathspec} not listed as succeeded")

        await w.call("List the flow's runs", "list_runs", {"flow": FLOW}, lists_the_run)
        return w.failures


def run_demo(target: str | None = None, python: str | None = None) -> int:
    folder = prepare(target)
    print(f"flowmcp demo in {folder}")
    # What the walk needs (an interpreter with a supported Metaflow, a user name, stores that
    # answer): when something is missing, the doctor's report says what and how to fix it,
    # instead of the walk's first call failing on it.
    report = doctor.check(str(folder), python, warm_check=False)
    if not report.ok:
        print(report.text())
        print("\nflowmcp demo: fix the ✗ lines above, then run the demo again.")
        return 1
    failures = anyio.run(walk, folder, python)
    if failures:
        print(f"\n{len(failures)} step(s) did not behave:")
        for f in failures:
            print(f"  {f}")
        return 1
    print(f"\nEvery step behaved. The project is in {folder}; register flowmcp with your agent there.")
    return 0
