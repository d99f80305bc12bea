"""Every tool's arguments, errors and answers, in milliseconds: the bridge is a FakeBridge fed with
records of a real session (tests/records/params_flow.json, made by `python -m tests.records.make`).
tests/test_tools.py runs the same tools on real Metaflow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.errors import BadArgumentError, BridgeError, FlowFileError, InterpreterDied, NotFoundError
from flowmcp.server.build import build_server

from .conftest import FLOWS, call
from .fakes import FakeBridge, load

pytestmark = pytest.mark.anyio
RECORDS = json.loads((Path(__file__).parent / "records" / "params_flow.json").read_text())
DIED = InterpreterDied("the project's interpreter died before reporting a result (killed by SIGKILL). "
                       "Its last output:\nKilled")


@pytest.fixture
def fake(tmp_path) -> FakeBridge:
    shutil.copy(FLOWS / "params_flow.py", tmp_path / "params_flow.py")
    return FakeBridge(tmp_path)


@pytest.fixture(params=["auto", "legacy"])
async def client(fake, request):
    app = App.create(fake.root)
    app.bridge = fake
    async with Client(build_server(app), mode=request.param) as c:
        yield c


def replay(fake: FakeBridge, name: str, *, describe: bool = True) -> None:
    """Queue the bridge answers a real session gave for `name`, after the flow's description."""
    answers = load(json.dumps(RECORDS[name]), fake.root)
    if describe and not any(op == "describe" for op, _ in answers):
        fake.queue("describe", load(json.dumps(RECORDS["run_ok"]), fake.root)[0][1])
    for op, answer in answers:
        fake.queue(op, answer)


def run_id() -> str:
    return load(json.dumps(RECORDS["run_ok"]), Path("/"))[1][1].record["run"]["pathspec"]


# ----------------------------------------------------------------------------- run


async def test_run_answers_with_the_run_its_steps_and_what_they_set(client, fake):
    replay(fake, "run_ok")
    text, data, is_error = await call(client, "run", flow="params_flow.py")
    assert not is_error and data["status"] == "succeeded"
    assert [s["step"] for s in data["steps"]] == ["start", "square", "join", "score", "end"]
    assert "square ×2 ok" in text and "Next: spin(flow, step)" in text


async def test_a_failed_run_leads_with_the_users_line(client, fake):
    replay(fake, "run_failed")
    text, data, is_error = await call(client, "run", flow="params_flow.py", parameters={"fail": True})
    assert is_error and data["status"] == "failed"
    assert text.startswith("params_flow.py:27 in score — ValueError: refusing to score a total of")
    assert 'spin(flow, "score")' in text


@pytest.mark.parametrize("arguments, says", [
    ({"parameters": {"alpah": 0.5}}, "alpha"),
    ({"parameters": {"count": "many"}}, "count"),
    ({"parameters": {"alpha": 10**400}}, "Parameter 'alpha' is float"),  # past a float's range: not an OverflowError
    ({"tags": [""]}, "empty"),
    ({"with_": ["kubernetes;rm -rf"]}, "not a decorator spec"),
])
async def test_run_refuses_bad_arguments_before_starting_anything(client, fake, arguments, says):
    replay(fake, "run_ok")
    fake.answers["run"].clear()
    text, _, is_error = await call(client, "run", flow="params_flow.py", **arguments)
    assert is_error and says in text, text
    assert [op for op, _, _ in fake.calls] == ["describe"]


async def test_run_of_a_missing_file_names_the_python_files_there(client, fake):
    text, _, is_error = await call(client, "run", flow="param_flow.py")
    assert is_error and "does not exist" in text and "params_flow.py" in text
    assert fake.calls == []


async def test_run_outside_the_root_is_refused(client, fake):
    text, _, is_error = await call(client, "run", flow="../elsewhere/flow.py")
    assert is_error and "outside the project root" in text


async def test_a_dead_interpreter_is_said_as_such(client, fake):
    replay(fake, "run_ok")
    fake.answers["run"].clear()
    fake.queue("run", DIED)
    text, _, is_error = await call(client, "run", flow="params_flow.py")
    assert is_error and "the project's interpreter died" in text and "SIGKILL" in text


async def test_a_flow_that_does_not_load_answers_with_its_own_error(client, fake):
    fake.queue("describe", FlowFileError("loading the flow file failed", detail={"exception": {
        "type": "NameError", "message": "name 'pd' is not defined", "frames": [
            {"file": str(fake.root / "params_flow.py"), "line": 5, "func": "<module>",
             "code": "df = pd.DataFrame()", "user": True}]}}))
    text, data, is_error = await call(client, "run", flow="params_flow.py")
    assert is_error and text.startswith("params_flow.py:5 in <module> — NameError: name 'pd' is not defined")
    assert "did not load" in text and data["status"] == "failed"


# ----------------------------------------------------------------------------- spin


async def test_spin_answers_with_its_source_and_what_the_step_set(client, fake):
    replay(fake, "spin_ok")
    text, data, is_error = await call(client, "spin", flow="params_flow.py", step="score")
    assert not is_error and data["status"] == "succeeded", text
    assert [a["name"] for a in data["artifacts"]] == ["result"]
    assert "parent state from ParamsFlow/" in text and "result is" in text


async def test_spin_of_an_unknown_step_says_which_exist(client, fake):
    replay(fake, "spin_ok")
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="scor")
    assert is_error and "Did you mean 'score'?" in text and "start, square, join, score, end" in text


@pytest.mark.parametrize("arguments, says", [
    ({"artifacts": {"a": 1}, "artifacts_module": "inputs.py"}, "not both"),
    ({"artifacts": {"not a name": 1}}, "not a Python identifier"),
    ({"artifacts_module": "../inputs.py"}, "outside the project root"),
    ({"artifacts_module": "params_flow.json"}, "not a .py file"),
])
async def test_spin_refuses_bad_overrides(client, fake, arguments, says):
    replay(fake, "spin_ok")
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="score", **arguments)
    assert is_error and says in text, text
    assert "spin" not in [op for op, _, _ in fake.calls]


@pytest.mark.parametrize("error, says", [
    (NotFoundError("ParamsFlow has no runs yet, so there is no parent state to spin score with."), "no runs yet"),
    (BadArgumentError("run must be a run id ('1718') or a pathspec 'ParamsFlow/1718'; got 'x/y/z'."), "run must be"),
    (BridgeError("flowmcp's spin failed in the project's interpreter: KeyError: 'x'"), "failed in the project's"),
    (DIED, "the project's interpreter died"),
])
async def test_spin_says_what_the_project_side_reported(client, fake, error, says):
    replay(fake, "spin_ok")
    fake.answers["spin"].clear()
    fake.queue("spin", error)
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="score")
    assert is_error and says in text, text


# ----------------------------------------------------------------------------- resume


async def test_resume_of_an_unknown_step_is_not_found_as_in_spin(client, fake):
    replay(fake, "spin_ok")
    fake.answers["spin"].clear()
    fake.queue("runs", {"runs": [{"run_id": "1", "pathspec": "ParamsFlow/1", "status": "failed"}]})
    text, _, is_error = await call(client, "resume", flow="params_flow.py", step="scor")
    assert is_error and "has no step 'scor'" in text and "Did you mean 'score'?" in text


async def test_resume_without_a_failed_run_says_so(client, fake):
    replay(fake, "spin_ok")
    fake.queue("runs", {"runs": [], "next_cursor": None, "total_runs": 0})
    text, _, is_error = await call(client, "resume", flow="params_flow.py")
    assert is_error and "no failed run to resume" in text


async def test_resume_with_a_dead_interpreter_is_not_told_there_is_no_failed_run(client, fake):
    replay(fake, "spin_ok")
    fake.queue("runs", DIED)
    text, _, is_error = await call(client, "resume", flow="params_flow.py")
    assert is_error and "interpreter died" in text and "no failed run" not in text


# ----------------------------------------------------------------------------- reading


async def test_flow_status_shows_the_graph_and_the_next_call(client, fake):
    replay(fake, "flow_status")
    text, data, is_error = await call(client, "flow_status", flow="params_flow.py")
    assert not is_error and [s["name"] for s in data["steps"]] == ["start", "square", "join", "score", "end"]
    assert "Parameters: alpha (float), count (int), fail (bool)" in text and "Next: " in text


async def test_flow_status_with_a_dead_interpreter_is_not_told_there_is_no_run(client, fake):
    replay(fake, "flow_status")
    fake.answers["runs"].clear()
    fake.queue("runs", DIED)
    text, _, is_error = await call(client, "flow_status", flow="params_flow.py")
    assert is_error and "interpreter died" in text and "no run yet" not in text


async def test_list_runs_lists_runs_and_flows(client, fake):
    replay(fake, "list_runs")
    text, data, _ = await call(client, "list_runs", flow="params_flow.py")
    assert [r["status"] for r in data["runs"]] == ["failed", "succeeded"], text
    assert "failed at score" in text
    replay(fake, "list_flows", describe=False)
    text, data, _ = await call(client, "list_runs")
    assert [f["file"] for f in data["flows"]] == ["params_flow.py"] and data["flows"][0]["runs"] == 2


@pytest.mark.parametrize("arguments, says", [
    ({"flow": "params_flow.py", "cursor": "../x"}, "cursor must be"),
    ({"flow": "NoSuchFlow"}, "No flow file 'NoSuchFlow'"),
    ({"flow": "params_flow.py", "limit": 0}, "limit"),
])
async def test_list_runs_refuses_bad_arguments(client, fake, arguments, says):
    text, _, is_error = await call(client, "list_runs", **arguments)
    assert is_error and says in text, text


async def test_inspect_artifact_answers_with_type_and_shape(client, fake):
    replay(fake, "inspect", describe=False)
    text, data, is_error = await call(client, "inspect_artifact", pathspec=f"{run_id()}/start", name="items")
    assert not is_error and data["type"] == "list" and "list of 2" in text


@pytest.mark.parametrize("arguments, says", [
    ({"pathspec": "ParamsFlow", "name": "x"}, "not a task pathspec"),
    ({"pathspec": "ParamsFlow/1/start", "name": "1x"}, "not an artifact name"),
])
async def test_inspect_artifact_refuses_bad_arguments(client, fake, arguments, says):
    text, _, is_error = await call(client, "inspect_artifact", **arguments)
    assert is_error and says in text, text


async def test_inspect_artifact_passes_on_close_matches(client, fake):
    fake.queue("inspect", NotFoundError("No artifact 'itms' in ParamsFlow/1/start/1. Did you mean 'items'?"))
    text, _, is_error = await call(client, "inspect_artifact", pathspec="ParamsFlow/1/start", name="itms")
    assert is_error and "Did you mean 'items'?" in text


async def test_get_logs_and_list_cards_answer_from_the_task(client, fake):
    replay(fake, "logs", describe=False)
    text, data, is_error = await call(client, "get_logs", pathspec=f"{run_id()}/score")
    assert not is_error and "result is" in data["text"], text
    replay(fake, "cards", describe=False)
    text, data, is_error = await call(client, "list_cards", pathspec=f"{run_id()}/score")
    assert not is_error and data["cards"] == [] and "rendered no cards" in text


async def test_run_status_reads_a_recorded_run_and_cancel_run_refuses_others(client, fake):
    replay(fake, "run_status")
    text, data, is_error = await call(client, "run_status", pathspec=run_id())
    assert not is_error and data["status"] == "succeeded", text
    text, _, is_error = await call(client, "cancel_run", pathspec="ParamsFlow/123")
    assert is_error and "not started by this server" in text
    text, _, is_error = await call(client, "run_status", pathspec="not a pathspec")
    assert is_error and "Flow/run_id" in text


async def test_a_prompt_without_its_arguments_or_unknown_says_so(client):
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError, match=r"Prompt add_step needs step, purpose; it takes: flow \(required\)"):
        await client.get_prompt("add_step", {"flow": "params_flow.py"})
    with pytest.raises(MCPError, match=r"No prompt 'add_stp'; the prompts are add_step, "):
        await client.get_prompt("add_stp", {})
    done = await client.get_prompt("add_step", {"flow": "params_flow.py", "step": "score", "purpose": "p"})
    assert "score" in done.messages[0].content.text  # and the server goes on serving


def test_artifact_path_keys_read_as_python_string_literals():
    from flowmcp.bridge.project.artifacts import parse_path
    from flowmcp.bridge.protocol import JobError

    assert parse_path("['é']") == [("key", "é")]
    assert parse_path(r'["a\\b"]' + r"['it\'s']") == [("key", "a\\b"), ("key", "it's")]
    with pytest.raises(JobError, match=r"not a valid Python string .*truncated \\xXX escape"):
        parse_path(r"['\x']")


async def test_an_error_never_echoes_a_huge_argument_back_whole(client):
    for tool, arguments in (("spin", {"flow": "params_flow.py", "step": "s" * 100_000}),
                            ("inspect_artifact", {"pathspec": "ParamsFlow/1/start/1", "name": "n" * 100_000}),
                            ("list_runs", {"flow": "f" * 100_000 + ".py"})):
        result = await client.call_tool(tool, arguments)
        text = result.content[0].text
        assert result.is_error and len(text) <= 2_100, (tool, len(text))
        assert "chars cut" in text or len(text) < 1_000, text[:300]


async def test_an_argument_the_tool_does_not_take_is_an_error_not_silently_dropped(client, fake):
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="score", run_pathspec="ParamsFlow/1")
    assert is_error and "spin: unknown argument run_pathspec (did you mean run?); nothing was done" in text, text
    assert "It takes: flow (required), step (required), run," in text
    assert fake.calls == []  # the bridge was never asked
    text, _, is_error = await call(client, "list_runs", flow="params_flow.py", limit=2, stauts="failed", x=1)
    assert is_error and "unknown arguments stauts (did you mean status?), x" in text, text


# ----------------------------------------------------------------------------- servers


async def test_servers_in_one_process_share_the_tools_schemas_but_each_answers_from_its_own_app(tmp_path):
    """A server's tools are copies of ones built once per process (server/build.py): each copy
    answers from its own app, what its Metaflow lacks included."""
    fakes = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(FLOWS / "params_flow.py", tmp_path / name / "params_flow.py")
        fakes.append(FakeBridge(tmp_path / name))
    servers = []
    for fake in fakes:
        app = App.create(fake.root)
        app.bridge = fake
        servers.append(build_server(app))
    replay(fakes[1], "run_ok")
    fakes[1].degraded["hook"] = "Second app's note."
    async with Client(servers[0]) as first, Client(servers[1]) as second:
        assert (await first.list_tools()).tools == (await second.list_tools()).tools
        result = await second.call_tool("run", {"flow": "params_flow.py"})
        assert not result.is_error and result.content[-1].text == "Second app's note.", result.content
    assert not fakes[0].calls and [op for op, _, _ in fakes[1].calls][-1] == "run"
