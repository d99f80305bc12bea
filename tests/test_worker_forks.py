"""The warm worker's forks, without Metaflow: copying a spare's pages ahead (`spare.prefault`: only
pages in memory, stopping when work arrives), and what a fork of the worker closes."""

from __future__ import annotations

import mmap
import os
import platform
import socket

from flowmcp.bridge.project.worker import spare
from flowmcp.bridge.project.worker.server import Worker

from .support import private_dirty_kb


def test_only_pages_in_memory_are_found_to_copy():
    area = mmap.mmap(-1, 64 * mmap.PAGESIZE)
    for page in (3, 4, 5, 10):
        area[page * mmap.PAGESIZE] = 1
    start = spare.ctypes.addressof(spare.ctypes.c_char.from_buffer(area))
    with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
        runs = spare.present_runs(pagemap, start, start + 64 * mmap.PAGESIZE)
    assert [((a - start) // mmap.PAGESIZE, (b - start) // mmap.PAGESIZE) for a, b in runs] == [(3, 6), (10, 11)]


def test_a_fork_copies_its_shared_pages_ahead_and_stops_when_work_arrives():
    shared = bytearray(16 << 20)  # written here: in memory, shared with the fork
    shared[::4096] = b"x" * len(shared[::4096])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child reports through its exit status)
        os.close(read_end)
        copied = spare.prefault(lambda: False)
        stopped = spare.prefault(lambda: True)
        os.write(write_end, f"{copied} {stopped} {private_dirty_kb(os.getpid())}".encode())
        os._exit(0)
    os.close(write_end)
    copied, stopped, dirty_kb = (int(x) for x in os.read(read_end, 100).split())
    os.close(read_end)
    os.waitpid(pid, 0)
    assert copied >= len(shared) and dirty_kb * 1024 >= len(shared)
    assert stopped == 0
    del shared


def test_a_fork_made_while_a_job_has_told_its_end_closes_the_other_jobs_sockets(tmp_path):
    worker = Worker({"root": str(tmp_path)})
    told, running = socket.socketpair()
    worker.jobs = {101: (None, None), 102: (running, None)}  # 101 told its end, not yet reaped
    worker.close_in_child(None)
    assert running.fileno() == -1
    told.close()


def test_a_fork_finds_the_pages_it_wrote_and_not_the_ones_it_only_shares():
    shared = bytearray(64 * mmap.PAGESIZE)
    shared[:: mmap.PAGESIZE] = b"x" * 64  # in memory, shared with the fork below
    start = spare.ctypes.addressof((spare.ctypes.c_char * len(shared)).from_buffer(shared))
    first = -(-start // mmap.PAGESIZE)  # the buffer's first whole page
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child reports through the pipe)
        os.close(read_end)
        for page in (first + 5, first + 6, first + 20):
            shared[page * mmap.PAGESIZE - start] = 1
        written = {address // mmap.PAGESIZE for lo, hi in spare.written_runs()
                   for address in range(lo, hi, mmap.PAGESIZE)}
        os.write(write_end, " ".join(str(p - first) for p in range(first, first + 60) if p in written).encode())
        os._exit(0)
    os.close(write_end)
    found = os.read(read_end, 1000).decode().split()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert found == ["5", "6", "20"]


def test_a_spare_is_forked_while_idle_and_beside_one_job_only_when_jobs_come_back_to_back(tmp_path):
    worker = Worker({"root": str(tmp_path)})
    worker.spares = True
    running = object()  # a running job's connection: its end not yet told
    assert worker.spare_wanted()  # idle
    worker.jobs = {100: (None, None)}
    assert worker.spare_wanted()  # a job that told its end is only leaving (zygote, memory): idle
    worker.jobs[101] = (running, None)
    assert not worker.spare_wanted()  # an agent's spin: the next one comes after an idle moment
    worker.back_to_back = True
    assert worker.spare_wanted()  # a test suite's: the spare is made beside it
    worker.jobs[102] = (running, None)
    assert not worker.spare_wanted()  # never beside two
    worker.jobs, worker.hazard = {}, "a thread"
    assert not worker.spare_wanted()


def test_a_fork_reports_only_what_it_learned_beyond_the_worker(tmp_path):
    """What a job or step process loaded beyond the worker's modules and compiled patterns goes
    to the worker; what it inherited is not said again, and with nothing new no file is written
    (it was 270 inherited patterns, 10 ms, before each step process of a scikit-learn flow could
    say it was over)."""
    import json
    import re
    import sys

    from flowmcp.bridge.project.worker import process

    before = set(re._cache)
    process.report_learned(set(sys.modules), str(tmp_path), patterns_before=before)
    assert list(tmp_path.iterdir()) == []
    re.compile(r"learned[0-9]{3}-only-here")
    process.report_learned(set(sys.modules) - {"json"}, str(tmp_path), patterns_before=before)
    [report] = tmp_path.iterdir()
    learned = json.loads(report.read_text())
    assert learned["patterns"] == [["learned[0-9]{3}-only-here", 0]]
    assert [name for name, _ in learned["modules"]] == ["json"]


def test_copying_ahead_is_known_to_work_on_linux_5_14_and_later():
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    assert spare.can_copy_ahead() == ((major, minor) >= (5, 14))
