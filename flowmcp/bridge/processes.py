"""Stopping a process and everything it started: one mechanism for jobs and warm workers.

A job leads its own session, so signalling its process group reaches the driver and the step
processes. A step may start processes outside that group (a child in a session of its own, a
double-forked daemon); the job is their subreaper, so they stay its descendants while it lives,
and on SIGTERM the job stops its own tree before it dies (`project/tree.py`). This side does the
same from outside, for a job that cannot (stuck, or on a system without /proc): it walks the
tree with psutil, freezing (SIGSTOP) what it finds until a walk finds nothing new, then kills it
all. psutil knows each process by pid and creation time, so a pid reused meanwhile by another
process is never signalled. It is imported here only, when something is stopped: never at start.
"""

from __future__ import annotations

import os
import signal
import time

import anyio

KILL_GRACE_S = 2.0
# The job's own stop takes its step processes' grace (project/tree.py TERM_GRACE_S) and a walk:
# it is waited for that long before this side walks and kills.
JOB_STOPS_ITSELF_S = KILL_GRACE_S + 2.0
FREEZE_WITHIN_S = 5.0


def pid_exists(pid: int) -> bool:
    """Whether a process of that pid exists (one of another user's counts: it cannot be signalled)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


async def kill_tree(process) -> None:
    """SIGTERM the process's whole group and every descendant outside it; after a grace period,
    freeze and kill whatever is left of the tree."""
    tree = await anyio.to_thread.run_sync(_tree, process.pid)
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    await anyio.to_thread.run_sync(_signal_all, tree[1:], signal.SIGTERM)
    with anyio.move_on_after(JOB_STOPS_ITSELF_S):
        await process.wait()
    # Its leftovers (the job could not stop them), found from what was seen before the SIGTERM.
    await anyio.to_thread.run_sync(freeze_and_kill, tree)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    with anyio.move_on_after(KILL_GRACE_S):
        await process.wait()


def _tree(pid: int) -> list:
    """`pid` and its descendants as psutil processes (each knows its creation time)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def freeze_and_kill(roots: list) -> None:
    """SIGSTOP every live process of `roots` and their descendants, walking again until a walk
    finds nothing new (a stopped process cannot fork; a frozen job still adopts the orphans of its
    tree), then SIGKILL them all."""
    stopped: set = set()
    deadline = time.monotonic() + FREEZE_WITHIN_S
    while time.monotonic() < deadline:
        new = _live_tree([*roots, *stopped]) - stopped
        if not new:
            break
        _signal_all(new, signal.SIGSTOP)
        stopped |= new
    _signal_all(stopped, signal.SIGKILL)


def _live_tree(roots: list) -> set:
    """Those of `roots` still running (the same processes: pid and creation time) and all their
    descendants, from one look at every process."""
    import psutil

    children: dict[int, list] = {}
    live = set()
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(process.info["ppid"], []).append(process)
        live.add(process)
    found = {process for process in roots if process in live}
    queue = [process.pid for process in found]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child.pid)
    return found


def _signal_all(processes, sig: int) -> None:
    """Signal each psutil process that is still the one seen (psutil checks its creation time)."""
    import psutil

    for process in processes:
        try:
            process.send_signal(sig)
        except psutil.Error:
            pass
