"""Spares: while idle, a warm worker keeps a job child (with its zygote and a step process) forked
and its pages copied, and the next spin runs in it — with that job's environment, not the
spare's; and a spare that dies, or a machine that turns them off, leaves jobs forking as before.
"""

from __future__ import annotations

import os
import signal

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.bridge import warm
from flowmcp.bridge.project.worker import spare
from flowmcp.server.build import build_server

from .conftest import call, make_project
from .support import alive, descendants, private_dirty_kb, write_env_flow

pytestmark = pytest.mark.anyio

SPARE_READY_S = 20
COPIED_AHEAD_KB = 8_000  # a spare's own copy of the worker's memory (~30 MB for Metaflow alone)


async def ended(*pids: int) -> None:
    with anyio.fail_after(10):
        while any(alive(pid) for pid in pids):  # noqa: ASYNC110 (other processes' end: nothing to await)
            await anyio.sleep(0.02)


async def worker_status(app: App) -> dict:
    [worker] = app.bridge.warm.workers.values()
    return await warm._ask_status(worker, timeout=10)


async def ready_spare(app: App) -> tuple[int, int]:
    """The spare job child's pid and its spare step process's, once both have copied their pages
    (where the kernel can: else once they are there)."""
    copied_ahead_kb = COPIED_AHEAD_KB if spare.can_copy_ahead() else 0
    with anyio.fail_after(SPARE_READY_S):
        while True:
            pid = (await worker_status(app)).get("spare")
            below = descendants(pid) if pid else []  # its zygote, then the zygote's spare step process
            steps = below[1:]
            if steps and min(private_dirty_kb(pid), private_dirty_kb(steps[0])) > copied_ahead_kb:
                return pid, steps[0]
            await anyio.sleep(0.1)


PIDS_FLOW = """\
import os
from metaflow import FlowSpec, step


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[2])


class PidsFlow(FlowSpec):
    @step
    def start(self):
        self.step_process = os.getpid()
        self.job_child = parent_of(os.getppid())  # the step's parent is the job's zygote
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PidsFlow()
"""


async def test_a_spin_after_an_idle_moment_runs_in_the_spare_and_a_new_one_follows(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "pids_flow.py").write_text(PIDS_FLOW)
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="pids_flow.py"))[2]
        # The run's plainly forked processes told what they wrote: spares copy that ahead
        copied = (await worker_status(app))["copied_ahead_kb"]
        assert copied["job"] > 1000 and copied["step"] > 1000, copied
        for _ in range(2):
            job_child, step_process = await ready_spare(app)
            text, data, is_error = await call(c, "spin", flow="pids_flow.py", step="start")
            assert not is_error and data["warm"], text
            # The waiting processes did this spin's work (and ended with it: the answer may come
            # while the kernel still frees their memory)
            assert f"job_child = int {job_child}" in text and f"step_process = int {step_process}" in text, text
            await ended(job_child, step_process)


async def test_a_spare_runs_the_job_with_the_jobs_environment_not_the_one_it_was_forked_with(
        tmp_path, monkeypatch):
    root = make_project(tmp_path / "p")
    write_env_flow(root, 'os.environ.get("APP_SETTING", "unset") + " in " + os.getcwd()')
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="env_flow.py"))[2]
        job_child, _ = await ready_spare(app)
        monkeypatch.setenv("APP_SETTING", "set after the spare was forked")
        text, data, _ = await call(c, "spin", flow="env_flow.py", step="start")
        assert data["warm"] and f"'set after the spare was forked in {root}'" in text, text
        await ended(job_child)


async def test_a_spare_that_dies_is_not_replaced_and_jobs_fork_as_before(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        job_child, _ = await ready_spare(app)
        os.killpg(job_child, signal.SIGKILL)
        await ended(job_child)
        for _ in range(2):
            text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
            assert not is_error and data["warm"], text
        await anyio.sleep(0.5)  # an idle moment, in which a spare would be forked
        assert (await worker_status(app))["spare"] is None
        [worker] = app.bridge.warm.workers.values()
        assert "the spare job child ended (-9); jobs fork from now on" in worker.log.read_text()


async def test_spares_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWMCP_SPARES", "0")
    root = make_project(tmp_path / "p", "params_flow.py")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"], text
        await anyio.sleep(0.5)
        assert (await worker_status(app))["spare"] is None


async def test_jobs_forked_while_another_has_told_its_end_run_warm(tmp_path):
    """Back-to-back spins: the next job forks while the last one may have told its end and not
    be reaped yet (its memory still being freed). Every spin runs warm."""
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        for _ in range(20):
            text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
            assert not is_error and data["warm"] and "Not warm" not in text, text
