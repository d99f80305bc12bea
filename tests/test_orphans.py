"""A server that dies leaves no flow running: its jobs (driver, zygote, step processes) go with it,
warm or cold, whether it was killed outright or stopped with SIGTERM (Linux: the kernel tells a job
its parent died)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from .conftest import make_project
from .support import SUBREAPER, RawSession, alive, descendants, live_below, processes_under

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
def test_a_dying_server_takes_its_running_flow_with_it(tmp_path, how, warm):
    root = make_project(tmp_path / "p", "sleepy_flow.py")
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(root), *([] if warm else ["--no-warm"])],
                         cwd=root)
    session.initialize()
    answer = session.tool("run", {"flow": "sleepy_flow.py", "wait": False})
    assert answer["structuredContent"]["status"] == "running", answer
    deadline = time.monotonic() + 60
    while not any("going to sleep" in p.read_text() for p in root.glob(".flowmcp/jobs/*/output*")):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.2)
    assert processes_under(root)

    session.proc.send_signal(how)
    session.proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while processes_under(root):
        assert time.monotonic() < deadline, f"left running after {how.name}: {processes_under(root)}"
        time.sleep(0.2)


@pytest.mark.anyio
@pytest.mark.parametrize("stop", ["timeout", "cancel"])
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
async def test_a_steps_escaped_children_go_with_a_timeout_or_a_cancel(tmp_path, stop, warm):
    """A step's children in a session of their own (setsid, a double-forked daemon) are outside the
    job's process group; timeout_s and cancel_run stop them too (the job is their subreaper)."""
    from mcp import Client

    from flowmcp.app import App
    from flowmcp.server.build import build_server

    from .conftest import call

    root = make_project(tmp_path / "p", "escaping_flow.py")
    pids_file = root / "escaped.pids"
    async with Client(build_server(App.create(root, warm=warm))) as c:
        if stop == "timeout":
            text, result, _ = await call(c, "run", flow="escaping_flow.py", timeout_s=10)
        else:
            text, started, _ = await call(c, "run", flow="escaping_flow.py", wait=False)
            with anyio.fail_after(60):
                while not pids_file.exists():  # noqa: ASYNC110 (a file the step writes)
                    await anyio.sleep(0.2)
            text, result, _ = await call(c, "cancel_run", pathspec=started["pathspec"])
        assert result["status"] == ("timed_out" if stop == "timeout" else "cancelled"), text
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) >= 2, pids
    with anyio.fail_after(10):
        while running := [pid for pid in pids if alive(pid)]:  # noqa: ASYNC110 (processes ending)
            await anyio.sleep(0.2)
    assert not running


# The reforking flow's step starts a sleeper in a session of its own (its pid in setsid.pid) and a
# process re-forking itself in a new session every few ms. The server runs under a subreaper of the
# test's (tests/subreaper.py): whatever escapes the run comes there, where a walk of that small
# tree finds it (a walk of every process on the machine is outrun by the re-forker), and a
# SIGTERM to it stops whatever a failed test leaves.


def _flowmcp_held(root, *args: str) -> list[str]:
    return [sys.executable, SUBREAPER, sys.executable, "-m", "flowmcp", *args, "--root", str(root)]


def _step_started(root, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not (root / "setsid.pid").exists():
        assert time.monotonic() < deadline, "the step never started its children"
        time.sleep(0.2)
    time.sleep(1)  # some hundreds of the re-forker's generations


def _nothing_left_below(holder: int, after: str, but: tuple[int, ...] = ()) -> None:
    deadline = time.monotonic() + 20
    while left := [pid for pid in live_below(holder) if pid not in but]:
        assert time.monotonic() < deadline, f"left running after {after}: {_commands(left)}"
        time.sleep(0.2)
    time.sleep(0.5)  # a re-forker the stop missed would show again by now
    assert not [pid for pid in live_below(holder) if pid not in but], f"left running after {after}"


def _commands(pids: list[int]) -> list[str]:
    commands = []
    for pid in pids:
        with contextlib.suppress(OSError):
            commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[-120:].decode())
    return commands


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
def test_a_killed_server_leaves_no_setsid_child_nor_a_reforker_and_no_zombies_meanwhile(tmp_path, warm):
    root = make_project(tmp_path / "p", "reforking_flow.py")
    session = RawSession(_flowmcp_held(root, *([] if warm else ["--no-warm"])), cwd=root)
    try:
        session.initialize()
        [server] = descendants(session.proc.pid)[:1]
        answer = session.tool("run", {"flow": "reforking_flow.py", "wait": False})
        assert answer["structuredContent"]["status"] == "running", answer
        _step_started(root)
        zombies = [pid for pid in descendants(server) if not alive(pid)]

        os.kill(server, signal.SIGKILL)
        _nothing_left_below(session.proc.pid, "SIGKILL of the stdio server")
        assert len(zombies) < 50, f"{len(zombies)} zombies under the server: the job reaps what it adopts"
    finally:
        session.proc.terminate()
        session.proc.wait(timeout=60)


def test_a_killed_project_server_leaves_no_setsid_child_nor_a_reforker(tmp_path):
    from .test_daemon import flowmcp, only_server

    root = make_project(tmp_path / "p", "reforking_flow.py")
    env = {**os.environ, "FLOWMCP_DAEMON_IDLE_S": "120"}
    env.pop("FLOWMCP_NO_DAEMON", None)
    # `flowmcp call` leaves; the project server it started stays below the holder.
    call = _flowmcp_held(root, "call", "run", "--args", '{"flow": "reforking_flow.py", "wait": false}')
    holder = subprocess.Popen(call, cwd=root, env=env, stdout=subprocess.DEVNULL)
    try:
        _step_started(root)
        server = only_server(root)["pid"]
        assert server in descendants(holder.pid)
        os.kill(server, signal.SIGKILL)
        _nothing_left_below(holder.pid, "SIGKILL of the project server")
    finally:
        holder.terminate()
        holder.wait(timeout=60)
        flowmcp(root, "daemon", "stop")


def test_cancel_run_stops_a_setsid_child_and_a_reforker(tmp_path):
    root = make_project(tmp_path / "p", "reforking_flow.py")
    session = RawSession(_flowmcp_held(root, "--no-warm"), cwd=root)
    try:
        session.initialize()
        [server] = descendants(session.proc.pid)[:1]
        started = session.tool("run", {"flow": "reforking_flow.py", "wait": False})["structuredContent"]
        _step_started(root)
        answer = session.tool("cancel_run", {"pathspec": started["pathspec"]})
        assert answer["structuredContent"]["status"] == "cancelled", answer
        _nothing_left_below(session.proc.pid, "cancel_run", but=(server,))
    finally:
        session.proc.terminate()
        session.proc.wait(timeout=60)
