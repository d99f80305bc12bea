"""Every answer true (issue 26): what a coding agent and real flows found wrong, each provoked on a
real flow (tests/flows/true), and foreach splits named and addressed by value."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import FLOWS, call

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "true"
    shutil.copytree(FLOWS / "true", root)
    return root


def server(root: Path, era: str = "auto"):
    return Client(build_server(App.create(root)), mode=era)


def run_id(pathspec: str) -> str:
    return pathspec.split("/")[1]


# ------------------------------------------------------------------- joins, retries, catches


async def test_a_join_reading_self_without_merge_artifacts_gets_metaflows_rule_not_run_again(root):
    async with server(root) as c:
        text, _, is_error = await call(c, "run", flow="join_flow.py")
        assert is_error and "merge_artifacts(inputs, include=['base'])" in text, text
        assert "join is a join" in text and "predates" not in text, text
        text, _, is_error = await call(c, "spin", flow="join_flow.py", step="join")
        assert is_error and "merge_artifacts(inputs, include=['base'])" in text, text
        assert "run the flow" not in text and "predates" not in text, text
        assert "inputs = Inputs of 2: a, b" in text, text  # never "Inputs (metaflow) with 3 attributes"


async def test_a_retried_attempt_is_not_a_catch_and_the_runs_own_error_leads(root):
    async with server(root) as c:
        text, run, is_error = await call(c, "run", flow="retry_flow.py")
        assert is_error and run["status"] == "failed", text
        assert "@catch" not in text, text  # the flow has no @catch, and the run stopped
        assert text.splitlines()[0].startswith("MetaflowInternalError"), text
        assert "train ended without calling self.next(self.end)" in text, text
        assert "@retry: train attempt 1 failed with retry_flow.py:31 in train — ValueError: first attempt breaks" \
            in text, text
        assert "train FAILED" in text and 'resume(flow, step="train")' in text, text
        # Metaflow records no end for it; list_runs says the error flowmcp saw, not "processes gone"
        text, runs, _ = await call(c, "list_runs", flow="retry_flow.py")
        assert "self.next() was called with nothing" in text and "processes are gone" not in text, text
        assert runs["runs"][0]["failed_step"] == "train", text
        text, _, _ = await call(c, "run_status", pathspec=run["pathspec"])
        assert "self.next() was called with nothing" in text and "Died" not in text, text


async def test_catch_in_a_foreach_names_the_split_by_value_once_and_shows_that_splits_values(root):
    async with server(root) as c:
        text, run, is_error = await call(c, "run", flow="foreach_flow.py")
        assert not is_error, text
        caught = [line for line in text.splitlines() if line.startswith("@catch")]
        assert caught == ["@catch caught an exception in body, split 1, input='b' of 3 after 2 attempts; the run "
                          "went on: foreach_flow.py:17 in body — ValueError: bad split b"], text
        assert run["artifact_splits"]["body"] == "split 0, input='a'", run["artifact_splits"]
        assert "body (split 0, input='a'): val = str, 2 chars: 'aa'" in text, text
        # read back later, the run still says what @catch kept
        text, _, _ = await call(c, "run_status", pathspec=run["pathspec"])
        assert caught[0] in text, text


# ------------------------------------------------------------------- foreach, first-class


async def test_foreach_splits_are_spun_inspected_and_logged_by_value(root):
    async with server(root) as c:
        _, run, _ = await call(c, "run", flow="foreach_flow.py")
        text, spin, _ = await call(c, "spin", flow="foreach_flow.py", step="body")
        assert spin["split"] == "split 0, input='a'" and "the first" in text, text
        assert "Metaflow's own `spin body` would take split 2, input='c'" in text, text
        assert "the inputs are 'a', 'b', 'c'" in text, text
        assert "Ignoring Step decorator" not in text and "Metaflow ran body without @retry and @catch" in text, text
        text, spin, _ = await call(c, "spin", flow="foreach_flow.py", step="body", split="c")
        assert spin["split"] == "split 2, input='c'" and "'cc'" in text, text
        _, spin, _ = await call(c, "spin", flow="foreach_flow.py", step="body", split=1)
        assert spin["split"] == "split 1, input='b'", spin
        text, _, is_error = await call(c, "spin", flow="foreach_flow.py", step="body", split="zz")
        assert is_error and "no split 'zz'" in text and "'a', 'b', 'c'" in text, text

        step = f"{run['pathspec']}/body"
        text, data, _ = await call(c, "inspect_artifact", pathspec=step, name="val")
        assert [row["split"] for row in data["splits"]] == ["split 0, input='a'", "split 1, input='b'",
                                                            "split 2, input='c'"], text
        assert "split 2, input='c': str, 2 chars: 'cc'" in text, text
        text, data, _ = await call(c, "inspect_artifact", pathspec=step, name="val", split="b")
        assert data["split"] == "split 1, input='b'" and "'bb'" in text, text
        text, data, _ = await call(c, "get_logs", pathspec=step)
        assert len(data["splits"]) == 3 and "split 2, input='c': 1 lines, ends: working on c" in text, text
        text, data, _ = await call(c, "get_logs", pathspec=step, split="c")
        assert data["split"] == "split 2, input='c'" and "working on c" in text and "working on a" not in text


async def test_a_nested_foreach_three_deep_is_addressed_by_every_level(root):
    async with server(root) as c:
        text, run, is_error = await call(c, "run", flow="nested_flow.py")
        assert not is_error and "inner ×8 ok" in text, text
        assert "inner (split 0, input=10 (in groups='x' [0], batches=1 [0]))" in text, text
        text, spin, _ = await call(c, "spin", flow="nested_flow.py", step="inner")
        assert spin["split"] == "split 0, input=10 (in groups='x' [0], batches=1 [0])", text
        assert "items: 'x', 1, 10" in text, text
        text, spin, _ = await call(c, "spin", flow="nested_flow.py", step="inner", split="y/2/20")
        assert "items: 'y', 2, 20" in text, text
        text, _, is_error = await call(c, "spin", flow="nested_flow.py", step="inner", split="20")
        assert is_error and '"1/1/1"' in text, text  # four splits have 20: each named by its indices
        text, data, _ = await call(c, "inspect_artifact", pathspec=f"{run['pathspec']}/inner", name="path",
                                   split="1/0/1")
        assert data["split"] == "split 1, input=20 (in groups='y' [1], batches=1 [0])", text


# ------------------------------------------------------------------- runs: status, cancel, resume


async def test_run_status_reports_parameters_how_it_ran_and_the_run_it_resumed(root):
    async with server(root) as c:
        _, first, _ = await call(c, "run", flow="sleeper_flow.py", parameters={"label": "hello", "fail": True})
        text, status, _ = await call(c, "run_status", pathspec=first["pathspec"])
        assert status["parameters"] == {"secs": 0.0, "label": "hello", "fail": True}, status
        assert status["warm"] is True and "tasks forked from the warm worker" in text, text
        assert "label='hello'" in text, text
        text, resumed, _ = await call(c, "resume", flow="sleeper_flow.py")
        assert resumed["resumed_from"] == f"{first['pathspec']} at train", text
        text, status, _ = await call(c, "run_status", pathspec=resumed["pathspec"])
        assert status["resumed_from"] == f"{first['pathspec']} at train", text
        assert f"Resumed from {first['pathspec']}: reused its steps before train" in text, text
        assert "start reused" in text and status["warm"] is True, text


async def test_cancel_run_names_the_steps_that_finished_and_the_one_it_stopped(root):
    async with server(root) as c:
        _, run, _ = await call(c, "run", flow="sleeper_flow.py", parameters={"secs": 60}, wait=False)
        with anyio.fail_after(60):
            while "running: train" not in (await call(c, "run_status", pathspec=run["pathspec"]))[0]:  # noqa: ASYNC110
                await anyio.sleep(0.2)
        text, cancelled, is_error = await call(c, "cancel_run", pathspec=run["pathspec"])
        assert not is_error and cancelled["status"] == "cancelled", text
        assert "Finished: start; stopped: train." in text, text
        assert {s["step"]: s["status"] for s in cancelled["steps"]} == {"start": "succeeded", "train": "failed"}
        assert "tasks in new interpreters" not in text, text  # how it ran is not known to a cancel


# ------------------------------------------------------------------- spins: what is kept, what changed


async def test_an_unpersisted_spin_says_its_outputs_were_not_kept_in_both_answers(root):
    async with server(root) as c:
        await call(c, "run", flow="foreach_flow.py")
        text, spin, _ = await call(c, "spin", flow="foreach_flow.py", step="join")
        # the run this spin took its state from ran this very code: nothing to record
        assert spin["next_call"].startswith("nothing to record: ForeachFlow/"), text
        assert "more lines (not kept: this spin was not persisted; spin with persist=true" in text, text
        assert "inspect_artifact shows them" not in text, text
        text, _, is_error = await call(c, "inspect_artifact", pathspec=spin["pathspec"], name="report")
        assert is_error and "was not persisted" in text and "persist=true" in text, text
        assert "TypeError" not in text and "Available" not in text, text
        text, spin, _ = await call(c, "spin", flow="foreach_flow.py", step="join", persist=True)
        assert f'inspect_artifact("{spin["pathspec"]}", "report") shows them' in text, text
        text, data, is_error = await call(c, "inspect_artifact", pathspec=spin["pathspec"], name="report")
        assert not is_error and data["type"] == "dict", text


async def test_an_artifact_the_step_only_read_is_not_changed_and_a_class_is_an_artifact(root):
    async with server(root) as c:
        text, run, _ = await call(c, "run", flow="values_flow.py")
        assert [a["name"] for a in run["artifacts"]["score"]] == ["scores"], text  # models only read
        assert "kind" in [a["name"] for a in run["artifacts"]["start"]], text  # Metaflow saves a class
        for persist in (False, True):
            text, spin, _ = await call(c, "spin", flow="values_flow.py", step="score", persist=persist)
            assert [a["name"] for a in spin["artifacts"]] == ["scores"], text


async def test_only_arrays_shaped_like_images_are_pictures(root):
    async with server(root) as c:
        _, run, _ = await call(c, "run", flow="values_flow.py")
        text, data, _ = await call(c, "inspect_artifact", pathspec=f"{run['pathspec']}/start", name="coef")
        assert data["picture"] is None and "picture" not in text, text  # a (3, 13) coefficient matrix
        text, data, _ = await call(c, "inspect_artifact", pathspec=f"{run['pathspec']}/start", name="X")
        assert data["picture"] is None, text  # a 60×3 feature table
        text, data, _ = await call(c, "inspect_artifact", pathspec=f"{run['pathspec']}/start", name="photo")
        assert data["picture"] == "numpy image array", text


# ------------------------------------------------------------------- flow_status and the next call


async def test_flow_status_calls_empty_steps_skeleton_and_suggests_the_best_next_call(root):
    flow = root / "skeleton_flow.py"
    async with server(root) as c:
        text, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert 'git_info (default "")' in text, text
        assert [s["state"] for s in status["steps"]] == ["skeleton", "skeleton", "unverified"], text
        assert status["next_call"].startswith("write start's code (load the data), then run("), text
        await call(c, "run", flow="skeleton_flow.py")
        _, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert [s["state"] for s in status["steps"]] == ["skeleton", "skeleton", "verified"], status
        assert not status["next_call"].startswith("nothing to do"), status["next_call"]
        assert status["next_call"].startswith("write start's code"), status["next_call"]

        flow.write_text(flow.read_text().replace('"""Load the data."""', '"""Load the data."""\n        self.rows = 3'))
        await call(c, "run", flow="skeleton_flow.py")
        _, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert status["next_call"].startswith("write train's code (it only calls self.next), then "
                                              'spin(flow="skeleton_flow.py", step="train")'), status

        flow.write_text(flow.read_text().replace('"""Fit the model."""',
                                                 '"""Fit the model."""\n        self.n = self.rows'))
        text, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert "train → end: stale (edited since run" in text, text
        assert status["next_call"].startswith('spin(flow="skeleton_flow.py", step="train")'), status
        text, _, _ = await call(c, "spin", flow="skeleton_flow.py", step="train")
        last = status["latest_run"]["pathspec"]
        assert f'resume(flow, run="{run_id(last)}", step="train")' in text, text
        _, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert status["next_call"].startswith(
            f'resume(flow="skeleton_flow.py", run="{run_id(last)}", step="train") — train passed spin'), status
        text, _, is_error = await call(c, "resume", flow="skeleton_flow.py", run=run_id(last), step="train")
        assert not is_error, text
        _, status, _ = await call(c, "flow_status", flow="skeleton_flow.py")
        assert status["next_call"].startswith("nothing to do"), status


# ------------------------------------------------------------------- any entry step, single-step flows


async def test_runs_the_cli_made_of_a_flow_whose_entry_step_is_not_start_are_matched_to_their_file(root):
    env = dict(os.environ, USER=os.environ.get("USER") or "tester")
    await anyio.run_process([sys.executable, "a/begin_flow.py", "--quiet", "--no-pylint", "run"], cwd=root, env=env)
    async with server(root) as c:
        text, runs, _ = await call(c, "list_runs", flow="a/begin_flow.py")
        assert len(runs["runs"]) == 1 and "could not be matched" not in text, text
        text, status, _ = await call(c, "flow_status", flow="a/begin_flow.py")
        assert status["latest_run"]["pathspec"] == runs["runs"][0]["pathspec"], text
        text, spin, is_error = await call(c, "spin", flow="a/begin_flow.py", step="visit")
        assert not is_error and spin["source_task"].startswith(runs["runs"][0]["pathspec"]), text
        _, runs, _ = await call(c, "list_runs", flow="b/begin_copy.py")
        assert runs["runs"] == [], runs  # the other file of the same class made none of them


async def test_a_single_step_flow_runs_and_spins_and_its_next_call_is_a_run(root):
    async with server(root) as c:
        text, _, is_error = await call(c, "run", flow="solo_flow.py")
        assert not is_error and "only: answer = int 42" in text, text
        text, spin, is_error = await call(c, "spin", flow="solo_flow.py", step="only")
        assert not is_error and spin["next_call"].startswith("nothing to record: SoloFlow/"), text  # no next step
        flow = root / "solo_flow.py"
        flow.write_text(flow.read_text().replace("self.answer = 42", "self.answer = 43"))
        text, spin, is_error = await call(c, "spin", flow="solo_flow.py", step="only")
        # an entry step has no steps before it for resume to reuse, and this one no step after it
        assert not is_error and spin["next_call"] == "run(flow) to record this step's outputs.", text


# ------------------------------------------------------------------- smaller untruths


async def test_logs_of_a_run_that_does_not_exist_name_the_runs_that_do(root):
    async with server(root) as c:
        _, run, _ = await call(c, "run", flow="solo_flow.py")
        text, _, is_error = await call(c, "get_logs", pathspec="SoloFlow/123/only/2")
        assert is_error and "No run SoloFlow/123" in text and run_id(run["pathspec"]) in text, text
        assert "MetaflowNotFound" not in text, text
        text, _, is_error = await call(c, "get_logs", pathspec=f"{run['pathspec']}/nope")
        assert is_error and "No step 'nope'" in text and "only" in text, text


async def test_a_spin_that_waited_for_a_new_worker_says_so_and_only_then(root):
    flow = root / "solo_flow.py"
    async with server(root) as c:
        await call(c, "run", flow="solo_flow.py")
        text, _, _ = await call(c, "spin", flow="solo_flow.py", step="only")
        assert "warm worker" not in text.split("\n", 1)[1], text  # the worker the run started
        flow.write_text("import fractions\n" + flow.read_text())
        messages = []

        async def progress(_done, _total, message):
            messages.append(message)

        result = await c.call_tool("spin", {"flow": "solo_flow.py", "step": "only"}, progress_callback=progress)
        text = result.content[0].text
        assert re.search(r"Started a new warm worker: the flow now imports fractions \(\d+\.\d s, once", text), text
        assert any(m.startswith("Started a new warm worker") for m in messages), messages
        text, _, _ = await call(c, "spin", flow="solo_flow.py", step="only")
        assert "Started" not in text, text


async def test_a_warning_raised_inside_metaflows_code_is_not_shown_as_the_steps(root):
    async with server(root) as c:
        for tool, arguments in (("run", {}), ("spin", {"step": "start"})):
            text, data, is_error = await call(c, tool, flow="warn_flow.py", **arguments)
            assert not is_error and any("the step's own warning" in w for w in data["warnings"]), text
            assert "inside Metaflow's code" not in text and "DeprecationWarning" not in text, text


async def test_flow_status_after_a_transition_error_or_a_refused_run_suggests_what_can_fix_it(root):
    async with server(root) as c:
        await call(c, "run", flow="retry_flow.py")
        text, status, _ = await call(c, "flow_status", flow="retry_flow.py")
        states = {s["name"]: s["state"] for s in status["steps"]}
        assert states["start"] == "empty", text  # it passes its state on: train after it has code
        assert status["next_call"].startswith('fix train so that every path through it ends in its self.next'), text
        assert 'resume(flow="retry_flow.py", step="train")' in status["next_call"], text  # spin cannot check it

        await call(c, "run", flow="twice_flow.py")
        text, status, _ = await call(c, "flow_status", flow="twice_flow.py")
        assert "refused before any step: MetaflowException" in text and "specified twice" in text, text
        assert status["next_call"].startswith("fix what Metaflow said"), text
        flow = root / "twice_flow.py"
        flow.write_text(flow.read_text().replace('beta = Parameter("alpha"', 'beta = Parameter("beta"'))
        _, status, _ = await call(c, "flow_status", flow="twice_flow.py")
        assert not status["next_call"].startswith("fix what Metaflow said"), status  # the file changed since
