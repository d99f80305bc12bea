"""The corpus in milliseconds: each case's saved bridge records, replayed through the real spin
tool, give the reviewed golden answer (tests/test_corpus.py checks the records against real spins)."""

from __future__ import annotations

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server
from flowmcp.state.steps import step_versions

from .corpus_cases import CASES, CORPUS, answer_summary, break_case, call_of, copy_case, expects_failure, normalise
from .fakes import FakeBridge, load

pytestmark = pytest.mark.anyio
RECORDED = [name for name in CASES if (CORPUS / name / "record.json").exists()]


@pytest.mark.parametrize("name", RECORDED)
async def test_a_saved_record_renders_the_golden_answer(name, tmp_path):
    case_spec = copy_case(name, tmp_path)
    good = step_versions(tmp_path / "flow.py")
    break_case(tmp_path, case_spec, name)
    app = App.create(tmp_path)
    app.bridge = fake = FakeBridge(tmp_path)
    for op, answer in load((CORPUS / name / "record.json").read_text(), tmp_path):
        fake.queue(op, answer)
        _record_the_good_run(app, op, answer, good)
    async with Client(build_server(app)) as client:
        result = await client.call_tool(*call_of(case_spec))
    text = result.content[0].text
    assert bool(result.is_error) == expects_failure(case_spec), text
    assert not [fact for fact in case_spec["facts"] if fact not in text], text
    summary = answer_summary(result.structured_content, text)
    assert normalise(summary) == (CORPUS / name / "expected.txt").read_text().rstrip("\n")


def _record_the_good_run(app: App, op: str, answer, good: dict[str, str]) -> None:
    """What the real case did before its spin: flowmcp ran the good flow and recorded its steps'
    versions (the stale-parent hints depend on them)."""
    record = (getattr(answer, "record", None) or {}) if op == "spin" else {}
    source = (record.get("source") or {}).get("task_pathspec")
    if source:
        flow, run = source.split("/")[:2]
        app.state.record_run(f"flow.py:{flow}", run, good, {}, f"{flow}/{run}")


def test_every_case_has_a_saved_record():
    without = [name for name in CASES if name not in RECORDED]
    assert without == [], f"record them with: python bench/summaries.py --write-record NAME ({without})"
