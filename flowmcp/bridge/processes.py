"""Stopping a process and everything it started: one mechanism for jobs and warm workers.

A job leads its own session, so signalling its process group reaches the driver and the step
processes. A step may start processes outside that group (a child in a session of its own, a
double-forked daemon); the job is their subreaper (`dispatch.become_subreaper`), so they stay its
descendants, and the kill finds them by walking /proc before each signal.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio

KILL_GRACE_S = 2.0


async def kill_tree(process) -> None:
    """SIGTERM the process's whole group and every descendant outside it, then SIGKILL whatever is
    left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        # before the signal: once the job is gone, they are init's
        escaped = await anyio.to_thread.run_sync(descendants, process.pid)
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            _signal_all(escaped, signal.SIGKILL)
            break
        _signal_all(escaped, sig)
        with anyio.move_on_after(wait):
            await process.wait()
            # Step processes may outlive the driver for a moment; the group kill reaches them too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every live descendant of `pid`, from /proc (Linux; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)  # fields[1]: the parent's pid
        started[child] = fields[19]  # the start time, which tells a reused pid from the one we saw
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append((child, started[child]))
        queue.extend(children.get(child, []))
    return found


def _signal_all(processes: list[tuple[int, str]], sig: int) -> None:
    for pid, start in processes:
        try:
            if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19] != start:
                continue  # that pid is another process now
            os.kill(pid, sig)
        except (OSError, IndexError):
            pass
