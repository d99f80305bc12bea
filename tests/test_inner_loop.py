"""More of the inner loop: resume, logs, scale-out options, and `flowmcp call` for scripts and CI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flowmcp.bridge.project import cli

from .conftest import call, make_project

pytestmark = pytest.mark.anyio


async def test_resume_restarts_the_latest_failed_run_from_its_failed_step(client, project):
    _, failed, _ = await call(client, "run", flow="params_flow.py", parameters={"fail": True})
    flow = project / "params_flow.py"
    flow.write_text(flow.read_text().replace("if self.fail:", "if False:"))
    text, data, is_error = await call(client, "resume", flow="params_flow.py")
    assert not is_error, text
    assert data["status"] == "succeeded" and data["resumed_from"] == f"{failed['pathspec']} at score"
    assert f"Resumed from {failed['pathspec']}: reused its steps before score" in text
    assert [s["step"] for s in data["steps"]] == ["start", "square", "join", "score", "end"]


async def test_resume_without_a_failed_run_says_what_to_pass(client):
    text, _, is_error = await call(client, "resume", flow="params_flow.py")
    assert is_error and "no failed run to resume" in text


async def test_get_logs_cleans_filters_and_bounds_a_task_log(client):
    _, run, _ = await call(client, "run", flow="params_flow.py")
    text, data, is_error = await call(client, "get_logs", pathspec=run["pathspec"] + "/score")
    assert not is_error, text
    assert data["text"] == "result is 0.2"  # (0² + 1²) × 0.1 × 2
    _, data, _ = await call(client, "get_logs", pathspec=run["pathspec"] + "/score", pattern="nothing")
    assert data["matched"] == 0
    text, data, is_error = await call(client, "get_logs", pathspec=run["pathspec"] + "/square")
    assert not is_error and data["total_splits"] == 2, text  # a foreach step: a line per split
    assert "split 1, input=1" in text, text


def test_scale_out_options_become_metaflow_flags():
    argv = cli.run_argv({"run_id_file": "/tmp/id", "tags": ["t"], "with": ["kubernetes:cpu=4,memory=8000"],
                               "environment": "pypi", "cli_parameters": [["alpha", "0.5"]]})
    assert argv == ["--quiet", "--no-pylint", "--environment", "pypi", "run", "--run-id-file", "/tmp/id",
                    "--tag", "t", "--with", "kubernetes:cpu=4,memory=8000", "--alpha", "0.5"]
    argv = cli.run_argv({"run_id_file": "/tmp/id", "with": ["batch"],
                               "resume": {"origin_run_id": "1718", "step": "train"}})
    assert argv == ["--quiet", "--no-pylint", "resume", "train", "--origin-run-id", "1718",
                    "--run-id-file", "/tmp/id", "--with", "batch"]


async def test_a_malformed_with_entry_is_refused(client):
    text, _, is_error = await call(client, "run", flow="params_flow.py", with_=["kubernetes; rm -rf /"])
    assert is_error and "not a decorator spec" in text


def _flowmcp_call(project, *args):
    return subprocess.run([sys.executable, "-m", "flowmcp", "call", *args, "--root", str(project)],
                          capture_output=True, text=True, timeout=300)


def test_flowmcp_call_exit_codes_follow_the_tool_outcome(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    ok = _flowmcp_call(project, "run", "--args", '{"flow": "params_flow.py"}')
    assert ok.returncode == 0 and "succeeded" in ok.stdout
    spun = _flowmcp_call(project, "spin", "--args", '{"flow": "params_flow.py", "step": "score"}', "--json")
    assert spun.returncode == 0 and json.loads(spun.stdout)["status"] == "succeeded"
    failed = _flowmcp_call(project, "spin", "--args", '{"flow": "params_flow.py", "step": "score", '
                                                       '"artifacts": {"fail": true}}')
    assert failed.returncode == 1 and failed.stdout.startswith("params_flow.py:27 in score — ValueError")
    assert _flowmcp_call(project, "no_such_tool").returncode == 2
    assert _flowmcp_call(project, "run", "--args", "{not json").returncode == 2
    assert _flowmcp_call(project, "run", "--args", "[1]").returncode == 2


async def test_cards_are_listed_as_text_and_served_whole_as_resources(tmp_path):
    from mcp import Client

    from flowmcp.app import App
    from flowmcp.server.build import build_server

    project = make_project(tmp_path / "cards", "card_flow.py")
    async with Client(build_server(App.create(project))) as c:
        _, run, _ = await call(c, "run", flow="card_flow.py")
        text, cards, is_error = await call(c, "list_cards", pathspec=run["pathspec"] + "/report")
        assert not is_error, text
        (card,) = cards["cards"]
        assert card["type"] == "blank" and card["summary"] == "markdown: # n is 3"
        html = (await c.read_resource(card["uri"])).contents[0]
        assert html.mime_type == "text/html" and "__MF_DATA__" in html.text
        _, spun, _ = await call(c, "spin", flow="card_flow.py", step="report")
        _, spin_cards, _ = await call(c, "list_cards", pathspec=spun["pathspec"])
        assert spin_cards["cards"][0]["summary"] == "markdown: # n is 3"
        _, none, _ = await call(c, "list_cards", pathspec=run["pathspec"] + "/start")
        assert none["cards"] == []
        value = (await c.read_resource(f"flowmcp://artifact/{run['pathspec']}/start/1/n")).contents[0]
        assert value.text == "3"
