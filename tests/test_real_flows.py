"""Flows shaped like the ones people write (tests/flows/real): configs, inheritance, merges,
in-place edits, same-named flows — each answered as the plain CLI would, warm and cold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import FLOWS, call

pytestmark = pytest.mark.anyio


@pytest.fixture
def real(tmp_path) -> Path:
    root = tmp_path / "real"
    shutil.copytree(FLOWS / "real", root)
    return root


@pytest.fixture(params=["warm", "cold"])
def warm(request) -> bool:
    return request.param == "warm"


def server(root: Path, warm: bool = True):
    return Client(build_server(App.create(root, warm=warm)))


def names(spin: dict) -> dict[str, str]:
    return {a["name"]: a["change"] for a in spin["artifacts"]}


async def test_config_flows_run_spin_and_describe_as_the_cli_does(real, warm):
    async with server(real, warm) as c:
        for flow, step in [("config_json_flow.py", "train"), ("config_toml_flow.py", "score"),
                           ("config_project_flow.py", "aggregate"), ("inherited_flow.py", "prepare")]:
            text, data, is_error = await call(c, "run", flow=flow)
            assert not is_error and data["status"] == "succeeded", text
            text, data, is_error = await call(c, "spin", flow=flow, step=step)
            assert not is_error and data["status"] == "succeeded", text
            assert data["warm"] is warm, text
        text, data, _ = await call(c, "spin", flow="config_json_flow.py", step="train")
        assert names(data) == {"weights": "created", "model_name": "created"}, text
        text, status, _ = await call(c, "flow_status", flow="config_json_flow.py")
        assert [c["name"] for c in status["configs"]] == ["config"] and "Configs: config" in text
        assert [p["name"] for p in status["parameters"]] == ["noise"]
        assert {s["state"] for s in status["steps"]} == {"verified"}, text


async def test_a_config_flow_resumes_with_the_configs_of_its_origin_run(real):
    (real / "config_json_flow.py").write_text((real / "config_json_flow.py").read_text().replace(
        '        alpha = self.config.model.alpha\n',
        '        alpha = self.config.model.alpha\n'
        '        import os\n'
        '        if os.path.exists("fail.flag"):\n'
        '            raise RuntimeError("flagged")\n'))
    (real / "fail.flag").write_text("")
    async with server(real) as c:
        text, data, is_error = await call(c, "run", flow="config_json_flow.py")
        assert is_error and data["failure"]["step"] == "train", text
        (real / "fail.flag").unlink()
        text, data, is_error = await call(c, "resume", flow="config_json_flow.py")
        assert not is_error and data["status"] == "succeeded", text


async def test_a_flow_level_error_is_never_blamed_on_a_step(real, warm):
    async with server(real, warm) as c:
        assert not (await call(c, "run", flow="config_json_flow.py"))[2]
        (real / "config_json.json").write_text("{ not json")
        for tool, args in [("run", {}), ("spin", {"step": "train"})]:
            text, data, is_error = await call(c, tool, flow="config_json_flow.py", **args)
            assert is_error and data["failure"]["origin"] == "flow", text
            assert "config_json.json" in text or "config" in data["failure"]["message"].lower(), text
            assert ("fix the step" not in text and "not a step's code" in text) or "not train's code" in text, text


async def test_a_join_spun_right_after_a_run_lists_what_it_merged_and_took(real, warm):
    async with server(real, warm) as c:
        assert not (await call(c, "run", flow="merge_flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="merge_flow.py", step="join", persist=True)
        assert not is_error, text  # Metaflow's own `spin join` fails here: its spin datastore bug is guarded
        listed = names(data)
        assert listed["dataset_name"] == "from inputs"  # from start, only through merge_artifacts
        assert listed["score"] == "from inputs"  # self.score = inputs.left.score
        assert listed["tags"] == "created"
        assert "tag" not in listed  # merge_artifacts(exclude=["tag"])
        text, _value, is_error = await call(c, "inspect_artifact", pathspec=data["pathspec"], name="dataset_name")
        assert not is_error and "clicks-2024" in text, text


async def test_an_input_changed_in_place_is_listed_as_changed(real, warm):
    async with server(real, warm) as c:
        assert not (await call(c, "run", flow="inplace_flow.py"))[2]
        # The step hook tells a change by the same code on both paths (Metaflow's keys when the
        # outputs are kept, its serializer otherwise): the new interpreter checks one of the two
        for persist in (False, True) if warm else (True,):
            text, data, _ = await call(c, "spin", flow="inplace_flow.py", step="add_features", persist=persist)
            assert names(data) == {"df": "changed"}, text
            assert "df = DataFrame 300×" in text and "(changed)" in text
            text, data, _ = await call(c, "spin", flow="inplace_flow.py", step="bookkeeping", persist=persist)
            assert names(data) == {"seen": "changed", "stats": "changed"}, text
            text, data, _ = await call(c, "spin", flow="inplace_flow.py", step="filter_rows", persist=persist)
            assert names(data) == {"df": "changed", "seen": "changed"}, text
        text, run, _ = await call(c, "run", flow="inplace_flow.py")
        assert [a["name"] for a in run["artifacts"]["bookkeeping"]] == ["seen", "stats"], text


async def test_two_files_defining_one_flow_class_are_kept_apart(real):
    # Which file a run came from is recorded and read by the same code for a run of either path
    # (tools/_runs.py writes the ledger, bridge/project/listing.py reads it): warm runs only.
    async with server(real) as c:
        text, a_run, is_error = await call(c, "run", flow="same_name_a/flow.py")
        assert not is_error and "also defined in same_name_b/flow.py" in text, text
        text, status, _ = await call(c, "flow_status", flow="same_name_b/flow.py")
        assert status["latest_run"] is None and {s["state"] for s in status["steps"]} == {"unverified"}, text
        assert "also defined in same_name_a/flow.py" in text
        text, _, is_error = await call(c, "spin", flow="same_name_b/flow.py", step="rank")
        assert is_error and "no runs yet" in text, text
        text, b_run, _ = await call(c, "run", flow="same_name_b/flow.py")
        assert "also defined" not in text  # said once per server
        text, spin, is_error = await call(c, "spin", flow="same_name_b/flow.py", step="rank")
        assert not is_error and spin["source_task"].startswith(b_run["pathspec"] + "/"), text
        assert not spin["stale_upstream"], text
        _, runs, _ = await call(c, "list_runs", flow="same_name_a/flow.py")
        assert [r["pathspec"] for r in runs["runs"]] == [a_run["pathspec"]]
        _, every, _ = await call(c, "list_runs", flow="PlaylistFlow")
        assert len(every["runs"]) == 2 and "defined in 2 files" in every["notes"][0]
        text, flows, _ = await call(c, "list_runs")
        by_file = {f["file"]: f for f in flows["flows"]}
        assert by_file["same_name_a/flow.py"]["runs"] == 1 and by_file["same_name_b/flow.py"]["runs"] == 1


async def test_runs_started_outside_flowmcp_are_matched_to_their_file_by_their_steps(real):
    env = dict(os.environ)
    if env.get("USER") in (None, "root"):
        env["METAFLOW_USER"] = "tester"
    # From the root, as flowmcp runs it: one .metaflow for both files.
    subprocess.run([sys.executable, "same_name_b/flow.py", "--quiet", "--no-pylint", "run"], cwd=real,  # noqa: ASYNC221
                   capture_output=True, check=True, env=env)
    async with server(real) as c:
        _, runs, _ = await call(c, "list_runs", flow="same_name_b/flow.py")
        assert len(runs["runs"]) == 1
        _, runs, _ = await call(c, "list_runs", flow="same_name_a/flow.py")
        assert runs["runs"] == []


async def test_spin_takes_environment_and_the_error_names_the_argument(real, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # Metaflow would fetch micromamba there
    async with server(real) as c:
        text, data, is_error = await call(c, "run", flow="conda_flow.py")
        assert is_error and data["failure"]["origin"] == "flow"
        assert 'Pass environment="pypi"' in text and "fix the step" not in text, text
        assert not (await call(c, "run", flow="other_flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="other_flow.py", step="end", environment="pypi")
        assert data["warm"] is False and "environment='pypi'" in (data["path_note"] or ""), text
        assert "requires --environment" not in text  # Metaflow got it (offline it then fails to fetch micromamba)


async def test_catch_swallowed_exceptions_are_said_in_the_run_and_explained_in_spin(real):
    async with server(real) as c:
        text, data, is_error = await call(c, "run", flow="catch_flow.py")
        assert not is_error and data["status"] == "succeeded"
        [note] = [n for n in data["notes"] if n.startswith("@catch caught an exception in divide")]
        assert "ZeroDivisionError" in note and "catch_flow.py:25" in note, text
        split = int(re.search(r"split (\d+), input=", note).group(1))  # a foreach task, named by its split
        text, logs, _ = await call(c, "get_logs", pathspec=f"{data['pathspec']}/divide", split=split, tail=200)
        assert "ZeroDivisionError" in logs["text"], text
        assert "flowmcp" not in logs["text"]  # our hook's frame is not in the recorded traceback
        text, _spin, is_error = await call(c, "spin", flow="catch_flow.py", step="divide", split=split)
        assert is_error and "without @catch" in text, text


async def test_a_client_read_under_spin_explains_the_spin_metadata(real):
    async with server(real) as c:
        assert not (await call(c, "run", flow="other_flow.py"))[2]
        assert not (await call(c, "run", flow="client_read_flow.py"))[2]
        text, _data, is_error = await call(c, "spin", flow="client_read_flow.py", step="start")
        assert is_error and "Under spin, Metaflow's Client sees only spin runs" in text, text


async def test_small_answers_say_what_is_true(real):
    async with server(real) as c:
        _, _run, _ = await call(c, "run", flow="merge_flow.py")
        # A spin of code a run already verified does not ask for another run.
        assert not (await call(c, "spin", flow="merge_flow.py", step="fan_out"))[2]
        _, status, _ = await call(c, "flow_status", flow="merge_flow.py")
        assert status["next_call"].startswith("nothing to do"), status["next_call"]
        # A flat override on a join is ignored by Metaflow: said once, never also "overridden".
        text, spin, _ = await call(c, "spin", flow="merge_flow.py", step="join", artifacts={"score": 5})
        assert any("ignores flat overrides" in n for n in spin["notes"]), text
        assert not any(n.startswith("inputs overridden") for n in spin["notes"]), text
        # Metaflow's internal type names stay out of answers.
        text, status, _ = await call(c, "flow_status", flow="same_name_a/flow.py")
        assert {p["name"]: p["type"] for p in status["parameters"]}["movie_data"] == "file", text
        assert "FilePathClass" not in text
