"""Running the broken-flow corpus (tests/corpus/) through flowmcp: shared by its test and bench."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import anyio
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .fakes import RecordingBridge, dump

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


def copy_case(name: str, root: Path) -> dict:
    """The case's files in `root` (its record and golden left out); returns its spec."""
    for path in (CORPUS / name).iterdir():
        if path.is_dir():  # a helper package of the case's (mypkg/features/clean.py)
            shutil.copytree(path, root / path.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.name not in ("case.json", "expected.txt", "record.json"):
            shutil.copy(path, root / path.name)
    return spec(name)


def break_case(root: Path, case_spec: dict, name: str) -> None:
    target = root / case_spec.get("edit_file", "flow.py")
    old, new = case_spec["edit"]
    source = target.read_text()
    assert source.count(old) == 1, f"{name}: the edit must apply exactly once"
    target.write_text(source.replace(old, new))


def call_of(case_spec: dict) -> tuple[str, dict]:
    """The tool call a case is about: a spin of its step, or (tool "run") a run of the flow."""
    if case_spec.get("tool", "spin") == "run":
        return "run", {"flow": "flow.py", "parameters": case_spec.get("parameters") or {}}
    return "spin", {"flow": "flow.py", "step": case_spec["step"]}


def expects_failure(case_spec: dict) -> bool:
    return case_spec.get("expect", "failed") == "failed"


def answer_summary(data: dict, text: str = "") -> str:
    """What a case's golden holds: the failure summary; for an answer that succeeded (a @catch),
    its notes and warnings — what it says beyond "succeeded"; for a call refused before anything
    ran (a parameter of the wrong type), the tool error's text."""
    if not data:
        return text
    failure = data.get("failure")
    if failure:
        return failure["summary"]
    return "\n".join((data.get("notes") or []) + (data.get("warnings") or []))


def spin_broken_case(name: str, root: Path, both_paths: bool = False) -> tuple[str, dict, bool, str]:
    """Copy the case, record a good run, apply the broken edit, call the case's tool through
    flowmcp (a spin of its step, or a run).

    With `both_paths`, the broken spin is done twice — in the warm worker and in a new
    interpreter (--no-warm) — and must answer the same facts (tests/test_warm.py and
    tests/test_real_flows.py compare working spins on both paths). Returns the broken call's
    text, structured answer, error flag, and what the bridge answered during it
    (tests/fakes.py `dump`): the record the fast tier replays."""
    case_spec = copy_case(name, root)
    step = case_spec["step"]
    tool, arguments = call_of(case_spec)
    spin = tool == "spin"

    async def go():
        app = App.create(root)
        async with Client(build_server(app)) as client, \
                Client(build_server(App.create(root, warm=False))) as cold:
            if spin:  # a spin needs a run's state; a run case starts from nothing
                good = await client.call_tool("run", {"flow": "flow.py"})
                assert not good.is_error, good.content[0].text
            break_case(root, case_spec, name)
            app._described.clear()  # a broken helper module leaves flow.py as it was: describe it anyway
            recording = app.bridge = RecordingBridge(app.bridge)
            result = await client.call_tool(tool, arguments)
            app.bridge = recording._real
            if both_paths and spin:
                await same_on_both_paths(name, "broken", client, cold, step, result)
            return (result.content[0].text, result.structured_content or {}, bool(result.is_error),
                    dump(recording.recorded, root))

    return anyio.run(go)


async def same_on_both_paths(name: str, which: str, warm_client, cold_client, step: str, warm_result=None):
    warm_result = warm_result or await warm_client.call_tool("spin", {"flow": "flow.py", "step": step})
    cold_result = await cold_client.call_tool("spin", {"flow": "flow.py", "step": step})
    warm, cold = warm_result.structured_content or {}, cold_result.structured_content or {}
    if warm.get("source_task"):  # else answered before any spin started (a syntax error, say)
        assert warm.get("warm") is True, f"{name}: the {which} spin did not run warm: {warm_result.content[0].text}"
    assert cold.get("warm") is False
    assert facts(warm) == facts(cold), f"{name}: the {which} spin answers differ between the paths"


def facts(answer: dict) -> dict:
    """What a spin answer states, with what changes between any two spins removed."""
    failure = answer.get("failure") or {}
    return {
        "status": answer.get("status"),
        "artifacts": [(a["name"], a["type"], a.get("shape"), normalise(a["summary"]), normalise(a.get("detail", "")),
                       a.get("change")) for a in answer.get("artifacts", [])],
        "stdout": normalise(answer.get("stdout_tail", "")),
        "failure": {key: normalise(str(failure.get(key))) for key in
                    ("exception_type", "message", "file", "line", "function", "code", "hints", "summary")},
    }
