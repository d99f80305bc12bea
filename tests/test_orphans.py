"""A server that dies leaves no flow running: its jobs (driver, zygote, step processes) go with it,
warm or cold, whether it was killed outright or stopped with SIGTERM (Linux: the kernel tells a job
its parent died)."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from .conftest import make_project
from .support import RawSession, alive, processes_under

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
    import anyio
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
