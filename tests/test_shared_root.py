"""Several flowmcp processes on one root (two servers, a server and a headless call): the files
they share stay whole and true — `.flowmcp/state.json` keeps every update and survives a file of
the wrong shape, and a job folder one of them still uses is never pruned by another."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server
from flowmcp.state.steps import ProjectState

from .conftest import call, make_project

pytestmark = pytest.mark.anyio

WRONG_SHAPES = ["[]", "null", '{"flows": []}', '{"flows": {"x": []}}', '"text"',
                '{"flows": {"f": {"runs": [], "steps": {}}}}', "{not json"]


async def test_a_state_file_of_the_wrong_shape_is_set_aside_and_every_tool_still_answers(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    state = root / ".flowmcp" / "state.json"
    async with Client(build_server(App.create(root))) as c:
        for shape in WRONG_SHAPES:
            state.parent.mkdir(exist_ok=True)
            state.write_text(shape)
            text, data, is_error = await call(c, "run", flow="params_flow.py")
            assert not is_error and data["status"] == "succeeded", (shape, text)
            text, data, is_error = await call(c, "flow_status", flow="params_flow.py")
            assert not is_error, (shape, text)
            assert json.loads(state.read_text())["flows"], shape  # a new document, with this run
    assert len(list(state.parent.glob("state.json.bad-*"))) >= 1  # set aside, not deleted


UPDATER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from flowmcp.state.steps import ProjectState

    state = ProjectState(Path(sys.argv[1]))
    for i in range(40):
        state.record_run("flow.py:F", f"{sys.argv[2]}{i:03d}", {"start": "v"}, {"start": "succeeded"}, "F/1")
''')


def test_two_processes_updating_the_state_keep_every_update(tmp_path):
    path = tmp_path / ".flowmcp" / "state.json"
    (tmp_path / "updater.py").write_text(UPDATER)
    writers = [subprocess.Popen([sys.executable, str(tmp_path / "updater.py"), str(path), prefix])
               for prefix in ("1", "2")]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    runs = ProjectState(path)._flow("flow.py:F")["runs"]
    assert len(runs) == 80  # 40 each: no update lost to the other process


SLEEPY = textwrap.dedent('''
    import time

    from metaflow import FlowSpec, step


    class NapFlow(FlowSpec):
        @step
        def start(self):
            time.sleep(6)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        NapFlow()
''')


async def test_a_second_server_never_prunes_the_folder_of_a_job_the_first_is_running(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    (root / "nap_flow.py").write_text(SLEEPY)
    async with Client(build_server(App.create(root))) as first, Client(build_server(App.create(root))) as second:
        async with anyio.create_task_group() as group:
            results = {}

            async def long_run():
                results["nap"] = await call(first, "run", flow="nap_flow.py")

            group.start_soon(long_run)
            await anyio.sleep(2)  # its job folder exists and is in use
            for _ in range(25):  # more finished jobs than are kept: the second server prunes
                await call(second, "list_runs", flow="params_flow.py")
                await call(second, "run", flow="params_flow.py") if _ == 0 else None
        text, data, is_error = results["nap"]
        assert not is_error and data["status"] == "succeeded", text
