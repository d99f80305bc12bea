"""Stopping a process and everything it started: one mechanism for jobs and warm workers."""

from __future__ import annotations

import os
import signal

import anyio

KILL_GRACE_S = 2.0


async def kill_tree(process) -> None:
    """SIGTERM the process's whole group (it leads its own session), then SIGKILL whatever is
    left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        with anyio.move_on_after(wait):
            await process.wait()
            # Step processes may outlive the driver for a moment; the group kill reaches them too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
