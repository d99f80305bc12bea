"""Processes forked ahead of need: a spare job child (with its zygote and a spare step process)
waits, forked while the worker was idle, so a spin pays neither a fork nor most of its page copies.

A fork shares the worker's memory copy-on-write, and a Python process writes to nearly every
page it reads from (reference counts): a job child and its step process each copied ~4,000
pages (about 15 ms each, measured with `perf` here) while the spin waited. A spare makes those
copies before the job arrives — `madvise(MADV_POPULATE_WRITE)` over the pages the worker's first
spin wrote (`written_runs`), a few megabytes at a time, stopping as soon as work arrives — and is
otherwise exactly the process a fork at that moment would have made.
"""

import ctypes
import errno
import mmap
import os
import re
import select
import signal

from .. import tree

MADV_POPULATE_WRITE = 23  # Linux 5.14+; elsewhere the madvise fails and nothing is copied ahead
CHUNK = 2 << 20  # bytes copied between two looks for work
PAGE = mmap.PAGESIZE
PRESENT = re.compile(rb"[\x80-\xff]+")  # runs of pagemap entries with the "present" bit
# ... with "present" and "exclusively mapped" (bit 56: the low bit of the top byte): in a fork,
# the pages it wrote (copied) or allocated
WRITTEN = re.compile(b"[" + b"".join(re.escape(bytes([b])) for b in range(0x81, 0x100, 2)) + b"]+")
SKIPPED_MAPPINGS = ("[stack]", "[vvar]", "[vdso]", "[vsyscall]", "[vvar_vclock]")

_madvise = None


def private_writable_mappings():
    """(start, end) of each mapping a write would copy: private, writable, not the stack."""
    regions = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split()
                perms = fields[1]
                if perms[:2] != "rw" or perms[3] != "p":
                    continue
                if len(fields) > 5 and fields[5] in SKIPPED_MAPPINGS:
                    continue
                start, end = fields[0].split("-")
                regions.append((int(start, 16), int(end, 16)))
    except OSError:
        return []
    return regions


def present_runs(pagemap, start, end, entries=PRESENT):
    """The runs (start, end) of pages of [start, end) that are in memory now: those a fork shares,
    and a write copies (or, with `entries=WRITTEN`, those this fork wrote). Pages never touched are
    left alone: populating them would only allocate memory nobody uses (a library's reserved
    arenas can be hundreds of megabytes)."""
    pagemap.seek(start // PAGE * 8)
    top_bytes = pagemap.read((end - start) // PAGE * 8)[7::8]  # little-endian: each entry's top byte
    return [(start + m.start() * PAGE, start + m.end() * PAGE) for m in entries.finditer(top_bytes)]


def written_runs():
    """(start, end) of the runs of pages this fork has written or allocated: what a job of its
    kind copies, which later spares copy ahead (and nothing else)."""
    runs = []
    try:
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
            for start, end in private_writable_mappings():
                runs += present_runs(pagemap, start, end, WRITTEN)
    except OSError:
        return []
    return runs


def prefault(work_waiting, regions=None):
    """Copy this process's shared pages now, a chunk at a time, until done or `work_waiting()`:
    those in `regions` (a job's written runs, `written_runs`), else every private writable page
    in memory. Returns the bytes made private (0 where the kernel cannot do it)."""
    madvise = _libc_madvise()
    if madvise is None:
        return 0
    done = 0
    try:
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
            for region in private_writable_mappings() if regions is None else regions:
                for start, end in present_runs(pagemap, *region):
                    for at in range(start, end, CHUNK):
                        if work_waiting():
                            return done
                        size = min(CHUNK, end - at)
                        if madvise(at, size, MADV_POPULATE_WRITE) != 0:
                            if ctypes.get_errno() == errno.EINVAL:
                                return done  # an older kernel: no populate at all
                            break  # this mapping changed or cannot be populated: the next one
                        done += size
    except OSError:
        pass  # no pagemap to read (not Linux, or a mapping gone meanwhile): what is done is done
    return done


def can_copy_ahead():
    """Whether this kernel copies pages ahead for a spare (MADV_POPULATE_WRITE, Linux 5.14+):
    tried on one page of memory of this process's own."""
    madvise = _libc_madvise()
    if madvise is None:
        return False
    page = mmap.mmap(-1, PAGE)
    first = ctypes.c_char.from_buffer(page)
    try:
        return madvise(ctypes.addressof(first), PAGE, MADV_POPULATE_WRITE) == 0
    finally:
        del first  # the map cannot close while a view of it lives
        page.close()


def _libc_madvise():
    global _madvise
    if _madvise is None:
        try:
            _madvise = ctypes.CDLL(None, use_errno=True).madvise
            _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        except (OSError, AttributeError):
            return None
    return _madvise


def die_with_parent(parent=None):
    """Be killed when the process that forked this one ends (`parent`: its pid, checked after,
    as it may have ended already), or with `parent=None`, no longer. A spare is nobody's job yet:
    if the worker is killed while it forks one, nothing else would end it; a job clears this,
    since jobs outlive a worker that dies (the server still waits for them). Linux only."""
    if tree.prctl(tree.PR_SET_PDEATHSIG, signal.SIGKILL if parent else 0) and parent and os.getppid() != parent:
        os._exit(0)


def readable(sock):
    """Whether `sock` has something to read (work, or its end closed), without waiting."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def enabled():
    """Spares are on unless FLOWMCP_SPARES=0 (to measure what they save) or not on Linux."""
    return os.environ.get("FLOWMCP_SPARES", "1") != "0" and os.path.exists("/proc/self/maps")
