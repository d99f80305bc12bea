"""A server that dies leaves no flow running: its jobs (driver, zygote, step processes) go with it,
warm or cold, whether it was killed outright or stopped with SIGTERM (Linux: the kernel tells a job
its parent died)."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from .conftest import make_project
from .support import RawSession, processes_under

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
