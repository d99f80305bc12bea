"""Warm and plain spins answer the same on another project interpreter.

The test suite checks every corpus case both ways with the interpreter it runs on; this runs the
same comparison with any other (a project venv on Python 3.9 or 3.13, say), for the cases whose
libraries that interpreter has. Prints one line per case: `same` or the two differing summaries.

    python bench/warm_equivalence.py --python /path/to/project/python [CASE ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flowmcp.app import App
from flowmcp.server.build import build_server
from tests.corpus_cases import CASES, CORPUS, facts, spec


async def compare(name: str, python: str) -> str:
    root = Path(tempfile.mkdtemp(prefix=f"flowmcp-equiv-{name}-"))
    try:
        for path in (CORPUS / name).iterdir():
            if path.name not in ("case.json", "expected.txt"):
                shutil.copy(path, root / path.name)
        case = spec(name)
        async with Client(build_server(App.create(root, python))) as warm, \
                Client(build_server(App.create(root, python, warm=False))) as cold:
            run = await warm.call_tool("run", {"flow": "flow.py"})
            if run.is_error:
                return f"{name}: skipped, its good run fails here: {run.content[0].text.splitlines()[0]}"
            target = root / case.get("edit_file", "flow.py")
            old, new = case["edit"]
            target.write_text(target.read_text().replace(old, new))
            answers = [(await client.call_tool("spin", {"flow": "flow.py", "step": case["step"]})).structured_content
                       for client in (warm, cold)]
        path = "warm" if answers[0].get("warm") else "not warm"
        if facts(answers[0]) == facts(answers[1]):
            return f"{name}: same ({path})"
        summaries = [(a.get("failure") or {}).get("summary", a.get("status")) for a in answers]
        return f"{name}: DIFFERENT ({path})\n  warm:  {summaries[0]}\n  plain: {summaries[1]}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True, help="the project interpreter (with metaflow installed)")
    parser.add_argument("cases", nargs="*", default=CASES)
    args = parser.parse_args()
    os.environ.setdefault("USER", "bench")
    for name in args.cases:
        print(anyio.run(compare, name, args.python), flush=True)


if __name__ == "__main__":
    main()
