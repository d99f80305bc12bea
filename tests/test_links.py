"""Links in the project: one pointing outside never breaks a listing nor is followed, and a flow
file swapped for a link after the server checked it does not run what the link points at."""

from __future__ import annotations

import os

import pytest
from mcp import Client
from mcp.types import PromptReference

from flowmcp.app import App
from flowmcp.bridge import jobs
from flowmcp.server.build import build_server

from .conftest import FLOWS, call, make_project

pytestmark = pytest.mark.anyio


def _outside_code(folder, marker) -> str:
    """A flow-looking file outside the root that, if run at all, leaves `marker` behind."""
    folder.mkdir(parents=True, exist_ok=True)
    code = folder / "elsewhere.py"
    code.write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                    + (FLOWS / "params_flow.py").read_text().replace("ParamsFlow", "ElsewhereFlow"))
    return str(code)


async def test_links_out_of_the_root_never_break_a_listing_nor_are_followed(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    outside = _outside_code(tmp_path / "outside", tmp_path / "ran")
    (root / "linked_flow.py").symlink_to(outside)
    (root / "extdir").symlink_to(os.path.dirname(outside), target_is_directory=True)
    (root / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    async with Client(build_server(App.create(root))) as c:
        text, _, is_error = await call(c, "list_runs")
        assert not is_error and "params_flow.py (ParamsFlow)" in text and "Elsewhere" not in text, text
        for flow in ("linked_flow.py", "extdir/elsewhere.py", "dangling.py"):
            text, _, is_error = await call(c, "spin", flow=flow, step="start")
            assert is_error and ("outside the project root" in text or "does not exist" in text), text
        completed = await c.complete(PromptReference(type="ref/prompt", name="add_step"),
                                     {"name": "flow", "value": ""})
        assert completed.completion.values == ["params_flow.py"]
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("tool, warm", [("spin", True), ("spin", False), ("run", True), ("run", False)])
async def test_a_flow_file_swapped_for_a_link_after_the_check_is_not_run(tmp_path, monkeypatch, tool, warm):
    """The swap lands between the server's check and the job's start, every time."""
    root = make_project(tmp_path / "p", "params_flow.py")
    marker = tmp_path / "ran"
    outside = _outside_code(tmp_path / "outside", marker)
    async with Client(build_server(App.create(root, warm=warm))) as c:
        text, _, is_error = await call(c, "run", flow="params_flow.py")
        assert not is_error, text
        original = jobs.JobRunner.run_job

        async def swapped_first(self, op, request, **job):
            if op in ("spin", "run"):
                flow = root / "params_flow.py"
                flow.rename(root / "params_flow.py.orig")
                flow.symlink_to(outside)
            return await original(self, op, request, **job)

        monkeypatch.setattr(jobs.JobRunner, "run_job", swapped_first)
        arguments = {"flow": "params_flow.py"} | ({"step": "score"} if tool == "spin" else {})
        text, _, is_error = await call(c, tool, **arguments)
    assert is_error and "is now a link (to " in text and "outside" in text, text
    assert not marker.exists(), "the linked code ran"


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
async def test_a_step_that_swaps_its_flow_file_for_a_link_does_not_run_the_link(tmp_path, monkeypatch, warm):
    """Metaflow starts each step's process from the flow file's path: after the start step put a
    link there, the end step must not run what it points at."""
    root = make_project(tmp_path / "p", "swapping_flow.py")
    marker = tmp_path / "ran"
    monkeypatch.setenv("SWAP_TARGET", _outside_code(tmp_path / "outside", marker))
    async with Client(build_server(App.create(root, warm=warm))) as c:
        text, result, _ = await call(c, "run", flow="swapping_flow.py")
    assert not marker.exists(), f"the linked code ran: {text}"
    steps = {s["step"]: s["status"] for s in result.get("steps", [])}
    assert steps.get("start") == "succeeded", text
