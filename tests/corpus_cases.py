"""Running the broken-flow corpus (tests/corpus/) through flowmcp: shared by its test and bench."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import anyio
from mcp import Client

from flowmcp.app import App
from flowmcp.server import build_server

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").exists())


def spec(name: str) -> dict:
    return json.loads((CORPUS / name / "case.json").read_text())


def normalise(text: str) -> str:
    """Remove what changes between runs: run ids, addresses, temporary folders."""
    text = re.sub(r"(?<![\d.])\d{13,}(?![\d.])", "<id>", text)  # run ids, not a float's digits
    text = re.sub(r"0x[0-9a-f]{6,}", "0x…", text)
    text = re.sub(r"/\S*/bin/python[\d.]*", "<python>", text)  # the interpreter differs per machine
    return re.sub(r"/tmp/[^\s'\"]*?/(?=[\w.]+\.py)", "<root>/", text)


def spin_broken_case(name: str, root: Path) -> tuple[str, dict, bool]:
    """Copy the case, record a good run, apply the broken edit, spin the step through flowmcp."""
    case, case_spec = CORPUS / name, spec(name)
    for path in case.iterdir():
        if path.name not in ("case.json", "expected.txt"):
            shutil.copy(path, root / path.name)

    async def go():
        async with Client(build_server(App.create(root))) as client:
            good = await client.call_tool("run", {"flow": "flow.py"})
            assert not good.is_error, good.content[0].text
            target = root / case_spec.get("edit_file", "flow.py")
            old, new = case_spec["edit"]
            source = target.read_text()
            assert source.count(old) == 1, f"{name}: the edit must apply exactly once"
            target.write_text(source.replace(old, new))
            result = await client.call_tool("spin", {"flow": "flow.py", "step": case_spec["step"]})
            return result.content[0].text, result.structured_content or {}, bool(result.is_error)

    return anyio.run(go)
