"""The four tools on real flows, through the SDK's in-memory client in both protocol eras."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import TOOL_NAMES, call, make_project
from .support import processes_under

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A project with one successful run (alpha=0.5, count=3) and a newer failed one."""
    os.environ.setdefault("USER", "tester")
    root = make_project(tmp_path_factory.mktemp("recorded"), "params_flow.py")

    async def record():
        async with Client(build_server(App.create(root))) as c:
            ok = await call(c, "run", flow="params_flow.py", parameters={"alpha": 0.5, "count": 3})
            bad = await call(c, "run", flow="params_flow.py", parameters={"fail": True})
        return ok, bad

    ok, bad = anyio.run(record)
    assert not ok[2], ok[0]
    assert bad[2], bad[0]
    return {"root": root, "ok": ok[1], "bad": bad[1], "bad_text": bad[0]}


@pytest.fixture
async def rclient(recorded, era):
    async with Client(build_server(App.create(recorded["root"])), mode=era) as c:
        yield c


# ---------------------------------------------------------------------------- run


async def test_run_converts_float_parameter_given_as_string(client):
    text, data, is_error = await call(client, "run", flow="params_flow.py", parameters={"alpha": "0.5"})
    assert not is_error, text
    assert data["status"] == "succeeded"
    assert data["parameters"]["alpha"] == 0.5  # the value the run had, as Metaflow converted it
    assert data["pathspec"].startswith("ParamsFlow/")
    assert [s["step"] for s in data["steps"]] == ["start", "square", "join", "score", "end"]
    assert data["steps"][1]["tasks"] == 2
    assert text.startswith(f"{data['pathspec']} succeeded")
    inspected, _, _ = await call(client, "inspect_artifact", pathspec=f"{data['pathspec']}/score",
                                     name="result")
    assert inspected.endswith("float 1.0")  # (0² + 1²) × 0.5 × 2


def test_run_recorded_success_has_true_status_and_step_durations(recorded):
    data = recorded["ok"]
    assert data["status"] == "succeeded"
    assert all(s["status"] == "succeeded" and s["duration_s"] is not None for s in data["steps"])


def test_run_answer_shows_what_each_step_set(recorded):
    artifacts = {step: {a["name"]: a["summary"] for a in items} for step, items in recorded["ok"]["artifacts"].items()}
    assert artifacts["start"]["items"] == "list of 3 (int)"
    assert artifacts["join"]["total"] == "float 2.5"  # (0 + 1 + 4) × 0.5
    assert "value" in artifacts["square"]


def test_failed_run_is_failed_not_running_with_a_summary(recorded):
    data, text = recorded["bad"], recorded["bad_text"]
    assert data["status"] == "failed"
    failure = data["failure"]
    assert failure["step"] == "score"
    assert failure["task"].startswith(data["pathspec"] + "/score/")
    assert failure["exception_type"] == "ValueError"
    assert failure["summary"].startswith("params_flow.py:27 in score — ValueError: refusing to score")
    assert text.startswith("params_flow.py:27 in score — ValueError: refusing to score")
    assert 'raise ValueError(f"refusing to score a total of {self.total}")' in failure["summary"]
    assert "metaflow/cli.py" not in text and "click" not in text
    assert {s["step"]: s["status"] for s in data["steps"]}["score"] == "failed"


async def test_unknown_parameter_lists_the_valid_ones(client):
    text, _, is_error = await call(client, "run", flow="params_flow.py", parameters={"alpah": 1})
    assert is_error
    assert "Did you mean 'alpha'?" in text
    assert "alpha (float=0.1)" in text and "count (int=2)" in text


async def test_mistyped_parameter_value_says_what_to_pass(client):
    text, _, is_error = await call(client, "run", flow="params_flow.py", parameters={"count": "three"})
    assert is_error
    assert "'count' is int" in text and "an integer" in text


async def test_flow_file_outside_root_is_refused_with_the_root(client, project):
    text, _, is_error = await call(client, "run", flow="../outside.py")
    assert is_error
    assert str(project) in text and "outside the project root" in text


async def test_symlink_escaping_the_root_is_refused(client, project, tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text((project / "params_flow.py").read_text())
    (project / "link.py").symlink_to(outside)
    text, _, is_error = await call(client, "run", flow="link.py")
    assert is_error and "outside the project root" in text


async def test_missing_flow_file_names_the_python_files_there(client):
    text, _, is_error = await call(client, "run", flow="nope.py")
    assert is_error
    assert "does not exist" in text and "params_flow.py" in text


# ---------------------------------------------------------------------------- spin


async def test_spin_defaults_to_latest_successful_run_and_says_so(rclient, recorded):
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="score")
    assert not is_error, text
    assert data["source_task"].startswith(recorded["ok"]["pathspec"] + "/score/")
    assert data["source_run_choice"] == "latest successful"
    assert recorded["ok"]["pathspec"] in text
    assert {a["name"]: a for a in data["artifacts"]}["result"]["change"] == "created"
    assert "result is" in data["stdout_tail"]


async def test_spin_from_an_explicit_run_given_as_a_number(rclient, recorded):
    failed_run = int(recorded["bad"]["pathspec"].split("/")[1])
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="square", run=failed_run)
    assert not is_error, text
    assert data["source_task"].startswith(recorded["bad"]["pathspec"] + "/square/")
    assert data["source_run_choice"] == "given"


async def test_spin_foreach_picks_first_split_by_default_and_task_on_request(rclient, recorded):
    _, first, _ = await call(rclient, "spin", flow="params_flow.py", step="square")
    assert first["split_index"] == 0
    assert "foreach splits" in " ".join(first["notes"])
    tasks = sorted(first["source_task"].rsplit("/", 1)[1] for _ in [0])
    run_id = recorded["ok"]["pathspec"].split("/")[1]
    root = Path(recorded["root"]) / ".metaflow" / "ParamsFlow" / run_id / "square"
    other = sorted(p.name for p in root.iterdir() if p.name.isdigit() and p.name not in tasks)[-1]
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="square", task=other)
    assert not is_error, text
    assert data["source_task"].endswith(f"/square/{other}")
    assert data["split_index"] in (1, 2)


async def test_spin_artifacts_override_inputs(rclient):
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                      artifacts={"total": 21}, persist=True)
    assert not is_error, text
    result = {a["name"]: a for a in data["artifacts"]}["result"]
    assert "42" in result["summary"]
    inspected, value, is_error = await call(rclient, "inspect_artifact", pathspec=data["pathspec"], name="result")
    assert not is_error, inspected
    assert value["summary"].endswith("42")


async def test_persisted_spin_is_inspectable_through_its_pathspec(rclient):
    _, data, _ = await call(rclient, "spin", flow="params_flow.py", step="join", persist=True)
    assert data["persisted"] and data["pathspec"].endswith("/join/0")
    text, value, is_error = await call(rclient, "inspect_artifact", pathspec=data["pathspec"], name="total")
    assert not is_error, text
    assert value["type"] == "float"


async def test_spin_of_a_raising_step_points_at_the_user_line(rclient, recorded):
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                      artifacts={"fail": True})
    assert is_error
    assert data["status"] == "failed"
    assert text.startswith("params_flow.py:27 in score — ValueError: refusing to score")
    assert "Internal error" not in text and "site-packages" not in text
    assert len(text) < 1200


async def test_spin_restores_latest_run(rclient, recorded):
    latest = Path(recorded["root"]) / ".metaflow" / "ParamsFlow" / "latest_run"
    before = latest.read_text()
    await call(rclient, "spin", flow="params_flow.py", step="end")
    assert latest.read_text() == before


async def test_spin_of_unknown_step_lists_the_steps(rclient):
    text, _, is_error = await call(rclient, "spin", flow="params_flow.py", step="scroe")
    assert is_error
    assert "Did you mean 'score'?" in text and "start, square, join, score, end" in text


async def test_spin_before_any_run_says_to_run_first(client):
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="score")
    assert is_error
    assert "no runs yet" in text and "run(flow=" in text


async def test_spin_rejects_an_artifacts_module_without_artifacts(rclient, recorded):
    module = Path(recorded["root"]) / "bad_inputs.py"
    module.write_text("VALUES = {}\n")
    text, _, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                   artifacts_module="bad_inputs.py")
    assert is_error
    assert "defines no ARTIFACTS" in text


async def test_spin_uses_an_artifacts_module_for_python_objects(rclient, recorded):
    module = Path(recorded["root"]) / "inputs.py"
    module.write_text("from fractions import Fraction\nARTIFACTS = {'total': Fraction(1, 2)}\n")
    text, data, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                      artifacts_module="inputs.py")
    assert not is_error, text
    assert "Fraction" in {a["name"]: a for a in data["artifacts"]}["result"]["summary"]


# ---------------------------------------------------------------------------- inspect_artifact


async def test_artifact_name_typo_suggests_close_matches(rclient, recorded):
    text, _, is_error = await call(rclient, "inspect_artifact", pathspec=recorded["ok"]["pathspec"] + "/join",
                                   name="totl")
    assert is_error
    assert "Did you mean 'total'?" in text and "Available:" in text


async def test_inspect_path_drills_in_and_reports_where_it_stopped(rclient, recorded):
    pathspec = recorded["ok"]["pathspec"] + "/start"
    text, data, is_error = await call(rclient, "inspect_artifact", pathspec=pathspec, name="items", path="[2]")
    assert not is_error, text
    assert data["summary"] == "int 2"
    text, _, is_error = await call(rclient, "inspect_artifact", pathspec=pathspec, name="items", path="[7]")
    assert is_error and "[7]" in text and "length 3" in text


async def test_inspect_path_is_parsed_never_evaluated(rclient, recorded):
    pathspec = recorded["ok"]["pathspec"] + "/start"
    _, _, is_error = await call(rclient, "inspect_artifact", pathspec=pathspec, name="items",
                                path="__import__('os').system('touch pwned')")
    assert is_error
    assert not (Path(recorded["root"]) / "pwned").exists()


async def test_inspect_malformed_pathspec_says_the_shape(rclient):
    text, _, is_error = await call(rclient, "inspect_artifact", pathspec="not a pathspec", name="x")
    assert is_error and "Flow/run_id/step" in text


# ---------------------------------------------------------------------------- list_runs


async def test_list_runs_newest_first_with_true_status(rclient, recorded):
    text, data, is_error = await call(rclient, "list_runs", flow="params_flow.py")
    assert not is_error, text
    runs = data["runs"]
    assert [r["pathspec"] for r in runs] == [recorded["bad"]["pathspec"], recorded["ok"]["pathspec"]]
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    assert runs[0]["failed_step"] == "score"


async def test_list_runs_filters_by_status(rclient, recorded):
    _, failed, _ = await call(rclient, "list_runs", flow="params_flow.py", status="failed")
    assert [r["pathspec"] for r in failed["runs"]] == [recorded["bad"]["pathspec"]]
    _, running, _ = await call(rclient, "list_runs", flow="params_flow.py", status="running")
    assert running["runs"] == []


async def test_list_runs_pages_with_a_cursor(rclient, recorded):
    _, first, _ = await call(rclient, "list_runs", flow="params_flow.py", limit=1)
    assert len(first["runs"]) == 1 and first["next_cursor"]
    _, second, _ = await call(rclient, "list_runs", flow="params_flow.py", limit=1, cursor=first["next_cursor"])
    assert [r["pathspec"] for r in second["runs"]] == [recorded["ok"]["pathspec"]]
    assert second["next_cursor"] is None


async def test_list_runs_without_flow_lists_the_flows_in_the_root(rclient, recorded):
    text, data, _ = await call(rclient, "list_runs")
    assert [f["flow"] for f in data["flows"]] == ["ParamsFlow"]
    assert data["flows"][0]["latest_run"]["pathspec"] == recorded["bad"]["pathspec"]
    assert "params_flow.py (ParamsFlow)" in text


async def test_list_runs_includes_spins_on_request(rclient):
    await call(rclient, "spin", flow="params_flow.py", step="end")
    _, data, _ = await call(rclient, "list_runs", flow="params_flow.py", include_spins=True, limit=1)
    assert data["runs"][0]["spin_step"] == "end"


# ---------------------------------------------------------------------------- schemas


async def test_every_tool_has_input_and_output_schemas(client):
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOL_NAMES
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.description and len(tool.description) > 80
    assert json.dumps(tools["spin"].input_schema["properties"]["run"]).count("integer") == 1


# ---------------------------------------------------------------------------- broken flow files


def _variant(project: Path, name: str, old: str, new: str) -> str:
    source = (project / "params_flow.py").read_text()
    assert old in source
    (project / name).write_text(source.replace(old, new))
    return name


async def test_syntax_error_answers_with_file_line_and_caret(client, project):
    flow = _variant(project, "broken.py", "def square(self):", "def square(self:")
    text, data, is_error = await call(client, "run", flow=flow)
    assert is_error
    assert text.startswith("broken.py:15 in <module> — SyntaxError: '(' was never closed")
    assert "    def square(self:\n              ^" in text
    assert data["failure"]["line"] == 15


async def test_graph_error_names_the_line_and_the_steps(client, project):
    flow = _variant(project, "graph.py", "self.next(self.end)", "self.next(self.ned)")
    text, data, is_error = await call(client, "run", flow=flow)
    assert is_error
    assert text.startswith("graph.py:")
    assert "unknown step, ned" in text and "start, square, join, score" in text
    assert "*" not in text  # Metaflow's terminal markup stays out
    assert "Next: fix graph.py:30" in text
    assert data["pathspec"] is None


async def test_missing_module_names_it_and_the_interpreter(client, project):
    (project / "needs.py").write_text("import not_installed_anywhere\n" + (project / "params_flow.py").read_text())
    text, _, is_error = await call(client, "spin", flow="needs.py", step="end")
    assert is_error
    assert text.startswith("needs.py:1 in <module> — ModuleNotFoundError: No module named 'not_installed_anywhere'")
    assert App.create(project).config.python in text  # the interpreter that ran the flow


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1\n", "defines no FlowSpec subclass"),
        ("from metaflow import FlowSpec\nclass A(FlowSpec): pass\nclass B(FlowSpec): pass\n", "several flows (A, B)"),
    ],
)
async def test_flow_file_without_exactly_one_flow_says_so(client, project, source, message):
    (project / "odd.py").write_text(source)
    text, _, is_error = await call(client, "run", flow="odd.py")
    assert is_error and message in text


async def test_non_python_file_is_refused(client, project):
    (project / "data.csv").write_text("a,b\n")
    text, _, is_error = await call(client, "run", flow="data.csv")
    assert is_error and "not a Python file" in text


# ---------------------------------------------------------------------------- timeouts


async def test_run_timeout_kills_every_step_process_and_says_so(tmp_path):
    project = make_project(tmp_path / "sleepy", "sleepy_flow.py")
    async with Client(build_server(App.create(project))) as c:
        started = time.monotonic()
        text, data, is_error = await call(c, "run", flow="sleepy_flow.py", timeout_s=4)
        assert time.monotonic() - started < 30
    assert is_error
    assert data["status"] == "timed_out"
    assert text.startswith("Timeout: stopped after 4 s")
    assert "going to sleep" in text
    with anyio.fail_after(10):
        while processes_under(project, include_zombies=True):  # noqa: ASYNC110 (other processes' lives)
            await anyio.sleep(0.1)


async def test_inspect_reads_objects_of_classes_from_the_flow_file_and_user_modules(tmp_path):
    project = tmp_path / "boxes"
    project.mkdir()
    (project / "shapes.py").write_text("class Square:\n    def __init__(self, side):\n        self.side = side\n")
    (project / "box_flow.py").write_text(
        "from dataclasses import dataclass\n\nfrom metaflow import FlowSpec, step\n\nfrom shapes import Square\n\n\n"
        "@dataclass\nclass Box:\n    width: float\n    label: str\n\n\n"
        "class BoxFlow(FlowSpec):\n    @step\n    def start(self):\n        self.box = Box(2.5, 'crate')\n"
        "        self.square = Square(3)\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        "if __name__ == '__main__':\n    BoxFlow()\n"
    )
    async with Client(build_server(App.create(project))) as c:
        _, run, _ = await call(c, "run", flow="box_flow.py")
        text, box, is_error = await call(c, "inspect_artifact", pathspec=run["pathspec"] + "/start", name="box")
        assert not is_error, text
        assert box["summary"].startswith("dataclass Box (box_flow)") and "label: 'crate'" in box["detail"]
        text, square, is_error = await call(c, "inspect_artifact", pathspec=run["pathspec"] + "/start",
                                            name="square")
        assert not is_error, text
        assert square["summary"].startswith("Square (shapes)") and "side: 3" in square["detail"]


async def test_spin_of_a_join_with_five_inputs_explains_the_metaflow_bug(client, project):
    await call(client, "run", flow="params_flow.py", parameters={"count": 5})
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="join")
    assert is_error
    assert "joins 5 inputs" in text and "known bug" in text
    _, _, is_error = await call(client, "spin", flow="params_flow.py", step="score")
    assert not is_error  # a linear step of the same run spins fine


async def test_secret_environment_values_never_reach_an_answer(client, project, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_API_TOKEN", "tok-9f8e7d6c5b4a")
    flow = project / "params_flow.py"
    flow.write_text(flow.read_text().replace(
        'raise ValueError(f"refusing to score a total of {self.total}")',
        'raise ValueError(os.environ["WAREHOUSE_API_TOKEN"])').replace("from metaflow", "import os\nfrom metaflow"))
    text, data, is_error = await call(client, "run", flow="params_flow.py", parameters={"fail": True})
    assert is_error
    assert "tok-9f8e7d6c5b4a" not in text and "tok-9f8e7d6c5b4a" not in json.dumps(data)
    assert "ValueError: $WAREHOUSE_API_TOKEN" in text


async def test_an_artifacts_module_that_raises_is_caught_before_launch(rclient, recorded):
    (Path(recorded["root"]) / "broken_inputs.py").write_text("ARTIFACTS = {'total': 1 / 0}\n")
    text, _, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                   artifacts_module="broken_inputs.py")
    assert is_error
    assert "broken_inputs.py raised on import: ZeroDivisionError" in text


async def test_an_artifacts_module_outside_the_root_is_refused(rclient, tmp_path):
    (tmp_path / "elsewhere.py").write_text("ARTIFACTS = {}\n")
    text, _, is_error = await call(rclient, "spin", flow="params_flow.py", step="score",
                                   artifacts_module=str(tmp_path / "elsewhere.py"))
    assert is_error and "outside the project root" in text
