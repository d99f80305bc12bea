"""A server that dies leaves no flow running: its jobs (driver, zygote, step processes) go with it,
warm or cold, whether it was killed outright or stopped with SIGTERM (Linux: the kernel tells a job
its parent died)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest

from .conftest import make_project
from .support import RawSession, alive, descendants, processes_under

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


# What the reforking flow's step started: a sleeper in a session of its own, a process re-forking
# itself in a new session every few ms. Its command lines carry the project's folder.
ESCAPED = "# escaping from "


def _escaped(root) -> list[str]:
    return [line for line in processes_under(root) if ESCAPED in line]


def _zombies_under(pid: int) -> list[int]:
    return [child for child in descendants(pid) if not alive(child)]


def _started(root, timeout: float = 60) -> int:
    """The pid of the step's sleeper, once the re-forker runs too."""
    deadline = time.monotonic() + timeout
    while not ((root / "setsid.pid").exists() and len(_escaped(root)) >= 2):
        assert time.monotonic() < deadline, "the step never started its children"
        time.sleep(0.2)
    return int((root / "setsid.pid").read_text())


def _all_gone(root, sleeper: int, after: str) -> None:
    try:
        deadline = time.monotonic() + 10
        while alive(sleeper) or _escaped(root):
            assert time.monotonic() < deadline, f"left running after {after}: {_escaped(root)}"
            time.sleep(0.2)
        time.sleep(0.5)  # a re-forker the walk missed would show again by now
        assert not _escaped(root), f"left running after {after}"
    finally:
        _kill_escaped(root)


def _kill_escaped(root) -> None:
    """What a failed test would leave forking forever: killed until three looks find none."""
    quiet = 0
    while quiet < 3:
        found = 0
        for entry in os.listdir("/proc"):
            try:
                command = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue
            if ESCAPED.encode() in command and str(root).encode() in command:
                found += 1
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
        quiet = 0 if found else quiet + 1


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
def test_a_killed_server_leaves_no_setsid_child_nor_a_reforker_and_no_zombies_meanwhile(tmp_path, warm):
    root = make_project(tmp_path / "p", "reforking_flow.py")
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(root), *([] if warm else ["--no-warm"])],
                         cwd=root)
    session.initialize()
    answer = session.tool("run", {"flow": "reforking_flow.py", "wait": False})
    assert answer["structuredContent"]["status"] == "running", answer
    sleeper = _started(root)
    time.sleep(1.5)  # a few hundred generations of the re-forker: the job reaps what it adopts
    assert len(_zombies_under(session.proc.pid)) < 50, _zombies_under(session.proc.pid)[:10]

    session.proc.kill()
    session.proc.wait(timeout=30)
    _all_gone(root, sleeper, "SIGKILL of the stdio server")


def test_a_killed_project_server_leaves_no_setsid_child_nor_a_reforker(tmp_path):
    from .test_daemon import flowmcp, only_server

    root = make_project(tmp_path / "p", "reforking_flow.py")
    try:
        started = flowmcp(root, "call", "run", "--args", '{"flow": "reforking_flow.py", "wait": false}')
        assert started.returncode == 0, started.stdout + started.stderr
        sleeper = _started(root)
        os.kill(only_server(root)["pid"], signal.SIGKILL)
        _all_gone(root, sleeper, "SIGKILL of the project server")
    finally:
        flowmcp(root, "daemon", "stop")


@pytest.mark.anyio
async def test_cancel_run_stops_a_reforker(tmp_path):
    from mcp import Client

    from flowmcp.app import App
    from flowmcp.server.build import build_server

    from .conftest import call

    root = make_project(tmp_path / "p", "reforking_flow.py")
    async with Client(build_server(App.create(root, warm=False))) as c:
        text, started, _ = await call(c, "run", flow="reforking_flow.py", wait=False)
        sleeper = await anyio.to_thread.run_sync(_started, root)
        text, result, _ = await call(c, "cancel_run", pathspec=started["pathspec"])
        assert result["status"] == "cancelled", text
        await anyio.to_thread.run_sync(_all_gone, root, sleeper, "cancel_run")
