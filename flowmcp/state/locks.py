"""Advisory file locks between flowmcp processes on one root (two servers, a server and a
headless call): `.flowmcp/` files that several of them update, and job folders one of them is
still using. POSIX `flock`; where there is none (Windows), locking is a no-op and one server per
root is the rule.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

POLL_S = 0.02  # a bounded wait polls: flock itself waits without end


@contextlib.contextmanager
def exclusive(path: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block; waits for others, at
    most `wait_s` seconds if given (then BlockingIOError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, wait_s)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Held:
    """A lock kept while something is in use (a running job's folder), released by `release`.
    Taken without waiting: BlockingIOError if another holder has it."""

    def __init__(self, path: Path):
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _acquire(self._fd, 0)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _acquire(fd: int, wait_s: float | None) -> None:
    """flock `fd` exclusively: waiting as long as it takes (None), or polling for `wait_s` seconds."""
    if fcntl is None:
        return
    if wait_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(POLL_S)


def held_elsewhere(path: Path) -> bool:
    """Whether another holder has `path` locked now (without waiting)."""
    if fcntl is None or not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)
