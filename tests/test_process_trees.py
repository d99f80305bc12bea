"""Stopping process trees without Metaflow: a job stops whatever its steps started, even a process
re-forking itself in new sessions, and reaps what it adopts meanwhile; a recorded pid another
process has taken since is never signalled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from flowmcp.cli.main import main
from flowmcp.daemon.identity import Paths

from .support import SUBREAPER, alive, descendants, live_below

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a job's tree is held on Linux")

REFORKER = """
import os, time
while True:
    time.sleep(0.002)
    if os.fork():
        os._exit(0)
    os.setsid()
"""

# A job as the driver is one (tree.hold: a subreaper that stops its tree on SIGTERM) whose step
# started a re-forker in a session of its own.
JOB = """
import subprocess, sys, time
from flowmcp.bridge.project import tree
tree.hold()
subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True)
print("started", flush=True)
time.sleep(600)
"""


def seen_below(pid: int, within_s: float) -> list[int]:
    """The live processes below `pid` the first walk found any, walking every few ms for `within_s`."""
    deadline = time.monotonic() + within_s
    while not (found := live_below(pid)) and time.monotonic() < deadline:
        time.sleep(0.005)
    return found


@pytest.mark.parametrize("how", [signal.SIGTERM, "parent gone"], ids=["SIGTERM", "parent-gone"])
def test_a_job_stops_a_reforker_in_new_sessions_and_reaps_what_it_adopts(how):
    from flowmcp.bridge.project import tree

    # Under a subreaper of the test's: what escapes the job comes there, not to init.
    holder = subprocess.Popen([sys.executable, SUBREAPER, sys.executable, "-c", JOB, REFORKER],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "started\n"
        [job] = descendants(holder.pid)[:1]
        time.sleep(1)  # some hundreds of generations, each adopted by the job when its parent exits
        # One walk can miss it: a generation found alive may exit before the walk reads its children
        # (its child was adopted by the job after the job's list was read). A few walks cannot all.
        assert seen_below(job, within_s=10), "the re-forker never ran"
        zombies = [pid for pid in descendants(job) if not alive(pid)]
        assert len(zombies) < 20, f"{len(zombies)} zombies under the job"

        os.kill(job, signal.SIGTERM if how == signal.SIGTERM else tree.PARENT_GONE)
        deadline = time.monotonic() + 20
        while alive(job):
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.05)
        assert not seen_below(holder.pid, within_s=0.5), "the re-forker survived the job"
    finally:
        holder.terminate()  # stops whatever is left below it
        holder.wait(timeout=30)


def test_daemon_stop_never_signals_a_process_that_took_a_recorded_pid(tmp_path, capsys):
    paths = Paths.of(tmp_path, "s0123456789")
    paths.make_folders()
    # What a server's command line has (flowmcp, its id): only the creation time tells them apart.
    command = [sys.executable, "-c", "import time; time.sleep(60)", "flowmcp", "daemon", "run", paths.id]
    server = subprocess.Popen(command)
    record = {"pid": server.pid, "server": paths.id, "started": psutil.Process(server.pid).create_time(),
              "socket": str(paths.socket)}
    server.kill()
    server.wait()
    time.sleep(1.2)  # past the second psutil may be off by (creation times count from the boot time)
    other = subprocess.Popen(command)  # an unrelated process, created after the record
    try:
        paths.info.write_text(json.dumps({**record, "pid": other.pid}))  # as if it had reused the pid
        assert main(["daemon", "stop", "--root", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "no project server was running" in out and f"stale record named pid {other.pid}" in out, out
        assert "nothing was signalled" in out, out
        time.sleep(0.2)
        assert other.poll() is None, "an unrelated process was signalled"
        assert not paths.info.exists()
    finally:
        other.kill()
        other.wait()


def test_a_job_leaves_the_children_of_its_own_session_to_whoever_waits_for_them():
    """A job reaps only what it adopted from other sessions: a step process Metaflow waits for
    keeps its exit status (taken by the job, it would read as a success)."""
    job = """
import subprocess, sys, time
from flowmcp.bridge.project import tree
tree.hold()
child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
time.sleep(1)  # it ended meanwhile: its SIGCHLD ran the job's handler
print(child.wait())
"""
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "3", done.stdout + done.stderr
