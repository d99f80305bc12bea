"""Long work: progress and keepalives, timeouts, background runs, cancellation — and no orphans."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.bridge import warm
from flowmcp.server.build import build_server

from .conftest import call, make_project
from .support import descendants, processes_under

pytestmark = pytest.mark.anyio


@pytest.fixture
def sleepy(tmp_path):
    return make_project(tmp_path / "sleepy", "sleepy_flow.py", "params_flow.py")


async def test_run_reports_each_task_and_keeps_ticking_while_the_flow_is_silent(sleepy):
    seen: list[tuple[float, str]] = []
    started = time.monotonic()

    async def progress(value, total, message):
        seen.append((time.monotonic() - started, message))

    async with Client(build_server(App.create(sleepy))) as c:
        result = await c.call_tool("run", {"flow": "sleepy_flow.py", "timeout_s": 11}, progress_callback=progress)
    assert result.is_error
    messages = [m for _, m in seen]
    assert any(m.startswith("start started") for m in messages)
    ticks = [t for t, m in seen if "s so far" in m]
    assert len(ticks) >= 2
    times = [0.0] + [t for t, _ in seen]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 5.5  # a keepalive at least every 5 s


async def test_run_in_the_background_can_be_followed_and_cancelled_without_orphans(sleepy):
    async with Client(build_server(App.create(sleepy))) as c:
        began = time.monotonic()
        text, data, is_error = await call(c, "run", flow="sleepy_flow.py", wait=False)
        assert time.monotonic() - began < 20
        assert not is_error and data["status"] == "running", text
        pathspec = data["pathspec"]
        assert pathspec.startswith("SleepyFlow/")
        text, data = await _until(c, pathspec, lambda text, data: "going to sleep" in text)
        assert data["status"] == "running" and "running: start" in data["progress"]
        text, data, is_error = await call(c, "cancel_run", pathspec=pathspec)
        assert not is_error and data["status"] == "cancelled", text  # the cancel worked
        assert data["failure"]["exception_type"] == "Cancelled"
        _, again, is_error = await call(c, "run_status", pathspec=pathspec)
        assert again["status"] == "cancelled" and not is_error
        _, runs, _ = await call(c, "list_runs", flow="sleepy_flow.py")
        assert runs["runs"][0]["status"] == "cancelled"
    async with Client(build_server(App.create(sleepy))) as c:  # another server says the same
        text, data, _ = await call(c, "run_status", pathspec=pathspec)
        assert data["status"] == "cancelled" and "Cancelled" in text, text
    await _no_processes_under(sleepy)


async def _until(client, pathspec, done, deadline_s=60):
    """run_status until `done(text, data)` holds: never a fixed sleep before an assert."""
    with anyio.fail_after(deadline_s):
        while True:
            text, data, _ = await call(client, "run_status", pathspec=pathspec)
            if done(text, data):
                return text, data
            await anyio.sleep(0.2)


async def _no_processes_under(root, app=None, deadline_s=10):
    """Wait until nothing runs under `root` but the app's idle warm workers (and their spares)."""
    with anyio.fail_after(deadline_s):
        while processes_under(root, ignore=await _idle_warm_pids(app)):  # noqa: ASYNC110 (other processes' lives)
            await anyio.sleep(0.1)


async def _idle_warm_pids(app) -> tuple[int, ...]:
    pids = []
    for worker in app.bridge.warm.workers.values() if app is not None else ():
        pids.append(worker.process.pid)
        try:
            spare = (await warm._ask_status(worker, timeout=5)).get("spare")
        except warm.TALK_ERRORS:
            continue
        if spare:  # a job child forked ahead, with its zygote and step process: idle, as the worker
            pids += [spare, *descendants(spare)]
    return tuple(pids)


async def test_a_run_stopped_by_its_timeout_is_timed_out_everywhere(sleepy):
    async with Client(build_server(App.create(sleepy))) as c:
        text, data, is_error = await call(c, "run", flow="sleepy_flow.py", timeout_s=4)
        assert is_error and data["status"] == "timed_out", text
        assert "timed out" in text and "start stopped" in text
        pathspec = data["pathspec"]
        _, runs, _ = await call(c, "list_runs", flow="sleepy_flow.py")
        assert runs["runs"][0]["status"] == "timed_out"
    async with Client(build_server(App.create(sleepy))) as c:
        text, data, _ = await call(c, "run_status", pathspec=pathspec)
        assert data["status"] == "timed_out" and data["failure"]["exception_type"] == "Timeout", text
        _, status, _ = await call(c, "flow_status", flow="sleepy_flow.py")
        assert status["latest_run"]["status"] == "timed_out"


async def test_a_run_whose_processes_are_gone_is_failed_never_running(sleepy):
    app = App.create(sleepy)
    async with Client(build_server(app)) as c:
        _, data, _ = await call(c, "run", flow="sleepy_flow.py", wait=False)
        pathspec = data["pathspec"]
        await _until(c, pathspec, lambda text, data: "going to sleep" in text)
        # The run's processes die without flowmcp stopping them (a server killed, an OOM kill).
        entry = app.ledger.read(*pathspec.split("/"))
        os.killpg(entry["pid"], signal.SIGKILL)
        await _no_processes_under(sleepy, app)
        # This server sees its job end before it stops (else stopping would cancel the job first,
        # and the run would be said cancelled: a race a loaded machine loses).
        await _until(c, pathspec, lambda text, data: data["status"] != "running")
    async with Client(build_server(App.create(sleepy))) as c:
        _, runs, _ = await call(c, "list_runs", flow="sleepy_flow.py")
        [run] = runs["runs"]
        assert run["status"] == "failed" and "processes are gone" in run["ended"]
        text, data, is_error = await call(c, "run_status", pathspec=pathspec)
        assert is_error and data["status"] == "failed" and "Progress: None" not in text
        assert "processes are gone" in data["failure"]["summary"], text
        _, status, _ = await call(c, "flow_status", flow="sleepy_flow.py")
        assert status["latest_run"]["status"] == "failed"


async def test_a_background_run_finishes_and_run_status_gives_the_full_answer(sleepy):
    async with Client(build_server(App.create(sleepy))) as c:
        _, data, _ = await call(c, "run", flow="params_flow.py", wait=False)
        pathspec = data["pathspec"]
        for _ in range(100):
            _, data, _ = await call(c, "run_status", pathspec=pathspec)
            if data["status"] != "running":
                break
            await anyio.sleep(0.3)
    assert data["status"] == "succeeded"
    assert data["steps"][0]["step"] == "start"


async def test_run_status_reads_runs_it_did_not_start(sleepy):
    # Setting up: a run made outside flowmcp.
    subprocess.run([sys.executable, "params_flow.py", "--quiet", "--no-pylint", "run", "--fail", "true"],  # noqa: ASYNC221
                   cwd=sleepy, capture_output=True)
    async with Client(build_server(App.create(sleepy))) as c:
        _, runs, _ = await call(c, "list_runs", flow="params_flow.py")
        text, data, is_error = await call(c, "run_status", pathspec=runs["runs"][0]["pathspec"])
    assert is_error and data["status"] == "failed"
    assert text.startswith("params_flow.py:27 in score — ValueError: refusing to score")


async def test_cancel_run_refuses_runs_it_does_not_own_and_bad_pathspecs(sleepy):
    async with Client(build_server(App.create(sleepy))) as c:
        text, _, is_error = await call(c, "cancel_run", pathspec="ParamsFlow/123")
        assert is_error and "not started by this server" in text
        text, _, is_error = await call(c, "run_status", pathspec="not a pathspec")
        assert is_error and "Flow/run_id" in text


async def test_client_cancellation_kills_the_run_and_the_server_keeps_serving(sleepy):
    app = App.create(sleepy)
    async with Client(build_server(app), mode="legacy") as c:
        for _ in range(3):
            with anyio.move_on_after(2.5):
                await c.call_tool("run", {"flow": "sleepy_flow.py"})
        await _no_processes_under(sleepy, app)  # the warm workers stay: they serve the next spin
        result = await c.call_tool("list_runs", {"flow": "sleepy_flow.py"})
        assert not result.is_error and "SleepyFlow/" in result.content[0].text
        statuses = {r["status"] for r in result.structured_content["runs"]}
        assert statuses <= {"cancelled"}, statuses  # never "running" once stopped
