"""The advisory file locks (flowmcp/state/locks.py): one flock for the servers' shared files, their
job folders and the daemon client's start lock."""

from __future__ import annotations

import os

import pytest

from flowmcp.state import locks


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_lock_that_is_held_elsewhere_leaves_no_descriptor_open(tmp_path):
    path = tmp_path / "active.lock"
    holder = locks.Held(path)
    try:
        before = _open_fds()
        for _ in range(3):
            with pytest.raises(BlockingIOError):
                locks.Held(path)
        assert _open_fds() == before
        assert locks.held_elsewhere(path)
    finally:
        holder.release()
    assert not locks.held_elsewhere(path)


def test_a_bounded_wait_gives_up_and_an_unbounded_one_takes_a_free_lock(tmp_path):
    path = tmp_path / "folder" / "start.lock"  # the folder is made as the lock is taken
    with locks.exclusive(path, wait_s=0.1), pytest.raises(BlockingIOError), locks.exclusive(path, wait_s=0.05):
        pass
    with locks.exclusive(path):
        assert locks.held_elsewhere(path)
    assert not locks.held_elsewhere(path)
