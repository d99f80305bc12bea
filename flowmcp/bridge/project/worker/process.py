"""What every process a warm worker forks does: become what a new interpreter would be (signals,
std streams, numpy's seed), tell its end before the kernel frees its memory, and report what it
learned (modules, regular expressions, written pages) for the worker to preload next time."""

import io
import json
import os
import re
import signal
import sys

from .. import tree
from . import spare

MAX_MESSAGE = 1 << 20


def fresh_process_state():
    """What a new interpreter would have that a fork of ours does not."""
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, tree.PARENT_GONE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:  # a new process seeds numpy's global generator from the OS
        try:
            numpy_random.seed()
        except Exception:
            pass


def std_streams():
    # As PYTHONUNBUFFERED gives a new interpreter: unbuffered bytes, text written through.
    # (PYTHONIOENCODING=utf-8 is set for every job; stderr keeps Python's backslashreplace.)
    def stream(fd, mode, errors="strict"):
        raw = io.FileIO(fd, mode, closefd=False)
        if mode == "r":
            return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors=errors)
        return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, write_through=True)

    sys.stdin, sys.stdout, sys.stderr = stream(0, "r"), stream(1, "w"), stream(2, "w", "backslashreplace")
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def report_learned(baseline, job_dir, pages_of=None, patterns_before=frozenset()):
    """Tell the worker the modules and regular expressions this process loaded beyond its own
    (`baseline`, the `re` cache's keys `patterns_before`); with `pages_of` ("job" or "step"), the
    pages it wrote too (`spare.written_runs`). Nothing new, nothing written: a step of a flow
    using scikit-learn inherits some 270 compiled patterns, and writing them all again took 10 ms
    before every step process could say it was over."""
    if not job_dir:
        return
    modules = []
    for name in set(sys.modules) - baseline:
        module = sys.modules.get(name)
        if module is not None:
            modules.append((name, getattr(module, "__file__", None)))
    patterns = [(key[1], key[2]) for key in list(re._cache) if key not in patterns_before
                and len(key) == 3 and isinstance(key[1], str) and not key[2] & re.DEBUG]
    if not (modules or patterns or pages_of):
        return
    try:
        with open(os.path.join(job_dir, "learned-%d.json" % os.getpid()), "w") as f:
            learned = {"modules": sorted(modules), "patterns": patterns}
            if pages_of:
                learned.update(pages_of=pages_of, pages=spare.written_runs())
            json.dump(learned, f)
    except OSError:
        pass


def leave(code, tell=None):
    """End a forked process: what it printed is flushed, nothing of the worker's is torn down.
    `tell(code)` says it is over before the kernel frees the process's memory (several
    milliseconds for a process holding its own copy of the worker's): whoever waits for it goes
    on meanwhile. Its standard streams are closed first, so readers see their end too."""
    try:
        if tell is not None:
            tell_over(code, tell)  # flushes the streams first
        else:
            sys.stdout.flush()
            sys.stderr.flush()
    except BaseException:
        pass
    finally:
        os._exit(code)


def tell_over(code, tell):
    """`tell(code)` that the process is over, its standard streams ended first (readers of a
    pipe see its end); `code` is what its exit status will say. The streams are put on
    /dev/null rather than closed: a file opened after this must not become fd 1 or 2."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        tell(code & 0xFF)
    except BaseException:
        pass


def teller(sock, message):
    """A `tell` for `leave` that sends `message(code)` over `sock` (if it can: else the waiter
    learns of the exit the usual way, from the process's end)."""
    def tell(code):
        try:
            sock.send(message(code))
        except OSError:
            pass

    return tell


def exit_code(ex):
    """The exit status `python script.py` gives for a SystemExit."""
    code = ex.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
