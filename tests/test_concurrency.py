"""Several calls at once: nothing blocks the event loop, and Metaflow's shared files stay right."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import call, make_project

pytestmark = pytest.mark.anyio


async def test_four_spins_and_a_run_of_one_flow_at_once_all_finish_correctly(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(project))) as c:
        _, first, _ = await call(c, "run", flow="params_flow.py")
        results: dict[str, tuple] = {}

        async def do(name, tool, arguments):
            results[name] = await call(c, tool, **arguments)

        async with anyio.create_task_group() as tg:
            for step in ("start", "square", "join", "score"):
                tg.start_soon(do, step, "spin", {"flow": "params_flow.py", "step": step})
            tg.start_soon(do, "run", "run", {"flow": "params_flow.py"})
    text, run, is_error = results["run"]
    assert not is_error and run["status"] == "succeeded", text
    for name in ("start", "square", "join", "score"):
        text, data, is_error = results[name]
        assert not is_error, text
        # a successful run's state: the first run (or the new one, had it already finished)
        assert data["source_task"].rsplit("/", 2)[0] in (first["pathspec"], run["pathspec"]), (name, text)
    # latest_run names the newest real run, never a spin, however the calls interleaved
    latest = (project / ".metaflow" / "ParamsFlow" / "latest_run").read_text().strip()
    spins = {name: results[name][1].get("pathspec") for name in ("start", "square", "join", "score")}
    assert latest == run["pathspec"].split("/")[1], (latest, first["pathspec"], run["pathspec"], spins)


async def test_a_slow_inspect_does_not_delay_list_runs(tmp_path):
    project = make_project(tmp_path / "p", "slow_flow.py", "slow_pickle.py")
    async with Client(build_server(App.create(project))) as c:
        _, run, _ = await call(c, "run", flow="slow_flow.py")
        finished: dict[str, float] = {}
        began = time.monotonic()

        async def inspect():
            text, _, is_error = await call(c, "inspect_artifact", pathspec=run["pathspec"] + "/start", name="slow")
            assert not is_error, text
            finished["inspect"] = time.monotonic() - began

        async def runs():
            await anyio.sleep(0.3)
            await call(c, "list_runs", flow="slow_flow.py")
            finished["list_runs"] = time.monotonic() - began

        async with anyio.create_task_group() as tg:
            tg.start_soon(inspect)
            tg.start_soon(runs)
    assert finished["inspect"] >= 4  # it really was slow
    assert finished["list_runs"] < finished["inspect"] - 1.5

