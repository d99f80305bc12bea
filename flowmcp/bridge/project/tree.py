"""A job's processes, held and stopped from inside the job (Linux; standard library only).

A job (the cold driver, or a warm worker's job child) leads a session of its own and is a child
subreaper (PR_SET_CHILD_SUBREAPER): a process a step starts in a session of its own, or a
double-forked daemon, is re-parented to the job when its parent exits, not to init. So as long as
the job lives, every process of the run is its descendant, whatever sessions they made. The job
therefore stops its own tree before it goes, whoever asks:

- the server died (PR_SET_PDEATHSIG; a warm worker passes it on to its job children) — `stop`
  right away: nobody will read the run;
- the server stops it (a timeout, cancel_run, the server's own stop: SIGTERM to the job's group) —
  `stop` after a grace period for the step processes to end by themselves.

`stop` freezes before it kills: each walk SIGSTOPs every descendant it finds, so what it found
can no longer fork, then looks again until a walk finds nothing new, then SIGKILLs them all and
reaps what it adopted. A process forking faster than a walk (a new session every few ms) is
caught: a child born after a walk has a stopped parent or was re-parented to the job, and the
next walk sees it. A process escapes only by making itself a subreaper, or by leaving through
something other than fork (a container runtime, systemd-run, ssh). Where /proc is missing (not
Linux) only the group is killed, as before; the server's own walk (bridge/processes.py, psutil)
covers the rest it can see.

While the job runs, it reaps what it adopted (`reap_adopted`, on SIGCHLD): a process re-forking
every few ms would otherwise leave a zombie per generation under the job. It reaps only zombies
of another session: its own children in its own session (Metaflow's step processes) are
subprocess's to wait for, and taking their status would make a failed step look successful. (A
child the job itself started in a new session would lose its status too; neither the driver,
Metaflow's runtime nor the warm job child starts one.)
"""

import os
import signal
import sys
import time

# The signal the kernel sends a job when the process that started it dies (and a warm worker sends
# its job children when the server is gone): a real-time one, which neither Metaflow nor a flow
# listens for.
PARENT_GONE = getattr(signal, "SIGRTMIN", 34) + 7
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP_WITHIN_S = 10.0  # a walk that keeps finding new processes gives up after this long
TERM_GRACE_S = 2.0  # what the step processes get to end by themselves after a SIGTERM


def descendants(pid, each=None):
    """The descendants of `pid` (zombies too), parents before children, each passed to `each` as
    soon as it is found; None where /proc cannot tell. Read from each process's own children lists
    (/proc/PID/task/TID/children), so a walk costs the size of the tree, not of the machine: a
    process re-forking every few ms must not outrun it. Else from every process's parent."""
    if not os.path.exists("/proc/%d/task/%d/children" % (pid, pid)):
        return _descendants_by_parent(pid, each)
    found, queue = [], [pid]
    while queue:
        for child in _children(queue.pop()):
            if each is not None:
                each(child)
            found.append(child)
            queue.append(child)
    return found


def _descendants_by_parent(pid, each=None):
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    children = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                # The command name may hold spaces and parentheses: the fields follow its last ')'.
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        if each is not None:
            each(child)
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def stop(grace_s=0.0):
    """Stop every descendant of this process and reap them; with `grace_s`, SIGTERM them first and
    give them that long. Whether /proc let it walk the tree."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # reaped below, not by the handler meanwhile
    for asked in (signal.SIGTERM, PARENT_GONE):  # one stop at a time: a second ask changes nothing
        signal.signal(asked, signal.SIG_IGN)
    me = os.getpid()
    if grace_s and descendants(me, _signaller(signal.SIGTERM)):
        deadline = time.monotonic() + grace_s
        while _reap_all() and time.monotonic() < deadline:  # a live descendant means a live child
            time.sleep(0.02)
    # Freeze: each process is stopped as the walk finds it, before its children are read; walk
    # again until nothing new is found. What was reaped meanwhile leaves the tree smaller.
    stopped = set()
    deadline = time.monotonic() + STOP_WITHIN_S

    def freeze(pid):
        if pid not in stopped:
            stopped.add(pid)
            new.append(pid)
            _signal(pid, signal.SIGSTOP)

    while time.monotonic() < deadline:
        new = []
        if descendants(me, freeze) is None:
            return False
        if not new:
            break
        _reap_all()
    while time.monotonic() < deadline + STOP_WITHIN_S:
        if not descendants(me, _signaller(signal.SIGKILL)):  # a SIGKILL ends a stopped process too
            break
        _reap_all()
        time.sleep(0.005)
    return True


def _signaller(sig):
    return lambda pid: _signal(pid, sig)


def _signal(pid, sig):
    # Signalled the moment a children list names it: a pid is reused only after its parent
    # reaped it, and in the tree that parent is this process or one stopped or about to be.
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _reap_all():
    """Reap every child that ended; whether any child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def reap_adopted(_signum=None, _frame=None):
    """Reap the zombie children that are not of this session: processes a step started in a
    session of their own, adopted by this subreaper when their parent exited (see above)."""
    me = os.getpid()
    session = os.getsid(0)
    for pid in _children(me):
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z" and int(fields[3]) != session:  # fields[3]: the session
                os.waitpid(pid, os.WNOHANG)
        except (OSError, IndexError, ValueError):
            pass


def _children(pid):
    """This process's children, from each thread's list (the kernel re-parents an orphan to any
    live thread of the subreaper)."""
    found = []
    try:
        threads = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for thread in threads:
        try:
            with open("/proc/%d/task/%s/children" % (pid, thread)) as f:
                found.extend(int(child) for child in f.read().split())
        except (OSError, ValueError):
            pass
    return found


def hold():
    """Make this job the keeper of its processes: a subreaper that reaps what it adopts and stops
    its whole tree before it dies of a SIGTERM (after a grace) or of PARENT_GONE (at once).
    Linux only."""
    if not prctl(PR_SET_CHILD_SUBREAPER, 1):
        return
    signal.signal(signal.SIGCHLD, reap_adopted)
    signal.signal(signal.SIGTERM, _stop_then_die)
    signal.signal(PARENT_GONE, stop_all_and_die)


def _stop_then_die(signum, _frame):
    stop(TERM_GRACE_S)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # ends as the signal would have ended it
    time.sleep(1)
    os._exit(128 + signum)


def stop_all_and_die(_signum=None, _frame=None):
    """The server is gone: stop the tree now, then the job's group with the job (the group only
    when the job leads it: a job always does, a test's stand-in may not)."""
    try:
        stop()
    finally:
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def prctl(option, value):
    """Linux's `prctl(option, value)`: whether it was done (never elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError, ValueError):
        return False
