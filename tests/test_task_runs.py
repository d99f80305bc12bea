"""Real runs and spins as MCP tasks, through the SDK's client in both eras: the task carries the
run's own answer and progress; cancelling a task stops the run as cancel_run does (nothing left
running); a spin becomes a task only when it is slow."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import FLOWS, call, make_project
from .taskclient import TasksClient, call_as_task, cancel, get, result, until
from .test_long_runs import _no_processes_under

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "tasks", "sleepy_flow.py", "params_flow.py")
    (root / "sleeper_flow.py").write_text((FLOWS / "true" / "sleeper_flow.py").read_text())
    return root


async def test_a_run_as_a_task_answers_as_the_run_and_records_it(project):
    tasks = TasksClient(poll_s=0.05)
    app = App.create(project)
    async with Client(build_server(app), extensions=[tasks]) as client:
        answer = await client.call_tool("run", {"flow": "params_flow.py"})
        data = answer.structured_content
        assert not answer.is_error and data["status"] == "succeeded" and data["pathspec"].startswith("ParamsFlow/")
        assert answer.content[0].text.startswith(f"{data['pathspec']} succeeded")
        assert len(tasks.created) == 1 and tasks.created[0].task_id not in data["pathspec"]
        assert any("steps done" in (p.get("statusMessage") or "") for p in tasks.polls)
        _, status, _ = await call(client, "flow_status", flow="params_flow.py")
        assert status["latest_run"]["pathspec"] == data["pathspec"]  # recorded as a blocking run is


async def test_cancelling_a_run_task_stops_it_as_cancel_run_does(project):
    app = App.create(project)
    async with Client(build_server(app), mode="legacy") as client:
        task_id = (await call_as_task(client, "run", {"flow": "sleepy_flow.py"}))["task"]["taskId"]
        working = await until(client.session, task_id, lambda t: "start started" in (t.get("statusMessage") or ""))
        assert working["status"] == "working"
        assert (await cancel(client.session, task_id))["status"] == "cancelled"
        await _no_processes_under(project, app, deadline_s=1)  # gone before the cancel answered
        answer = await result(client.session, task_id)
        assert answer["structuredContent"]["status"] == "cancelled"  # cancel_run's answer: what had finished
        assert answer["structuredContent"]["failure"]["exception_type"] == "Cancelled"
        _, runs, _ = await call(client, "list_runs", flow="sleepy_flow.py")
        assert runs["runs"][0]["status"] == "cancelled"


async def test_a_spin_becomes_a_task_only_when_it_is_slow_and_cancelling_it_stops_it(project):
    tasks = TasksClient(poll_s=0.1)
    app = App.create(project)
    async with Client(build_server(app), extensions=[tasks]) as client:
        await call(client, "run", flow="sleeper_flow.py")  # a run is a task for a client that takes tasks
        assert len(tasks.created) == 1
        text, data, _ = await call(client, "spin", flow="sleeper_flow.py", step="train")
        assert data["status"] == "succeeded" and len(tasks.created) == 1, text  # fast: the plain answer
        _, data, _ = await call(client, "spin", flow="sleeper_flow.py", step="train", artifacts={"secs": 4})
        assert data["status"] == "succeeded" and len(tasks.created) == 2  # slow: a task, polled to its end

        created = await client.session.call_tool("spin", {"flow": "sleeper_flow.py", "step": "train",
                                                          "artifacts": {"secs": 120}}, allow_claimed=True)
        assert created.result_type == "task"
        await cancel(client.session, created.task_id)
        await _no_processes_under(project, app, deadline_s=1)
        assert (await get(client.session, created.task_id))["status"] == "cancelled"
        with anyio.fail_after(30):  # the server goes on serving
            _, data, _ = await call(client, "spin", flow="sleeper_flow.py", step="train")
        assert data["status"] == "succeeded"
