"""The job children a warm worker forks: one per job (or a spare forked ahead, while the worker is
idle), each doing what `python driver.py REQUEST RESULT` would, in a session of its own, with the
job's environment; for a spin, a run or a resume it first forks the zygote of its step processes
(steps.py).
"""

import importlib
import json
import os
import re
import sys
import traceback

from .. import dispatch, tree
from . import spare
from .process import MAX_MESSAGE, fresh_process_state, leave, report_learned, std_streams, tell_over, teller
from .steps import StepLauncher, Zygote

FORKED_STEPS_OPS = ("spin", "run")  # jobs whose step processes are forked (run: resume too)


def prepare_job_process():
    """What a job child does before it knows its job (a spare does it ahead of time): a session
    of its own, the job's descendants kept as its own, a new interpreter's signals and no stdin."""
    os.setsid()
    fresh_process_state()
    tree.hold()  # the worker passes the server's death on as PARENT_GONE (`Worker.stop_jobs`)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def job_child(job, env_changes, env_removed, done, zygote=None):
    """A job, in a fork of the worker: the driver, as `python driver.py REQUEST RESULT` runs it.
    A spare comes prepared, with the zygote it forked before it waited (`spare_child`). The job's
    end is told on `done`, the worker's socket for it."""
    code = 1
    tell = teller(done, lambda code: json.dumps({"exit": code}).encode() + b"\n")
    patterns_before = set(re._cache)  # the worker's, as the fork left them
    try:
        if zygote is None:
            prepare_job_process()
        out = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        std_streams()
        os.chdir(job["cwd"])
        env = dict(job["env"])
        for key in env_removed:
            env.pop(key, None)
        env.update(env_changes)  # what the worker's imports set (e.g. metaflow_config's defaults)
        os.environ.clear()
        os.environ.update(env)
        importlib.invalidate_caches()  # a helper module created since the worker started is seen
        baseline = zygote.baseline if zygote is not None else set(sys.modules)
        launcher = None
        if job.get("driver_op") in FORKED_STEPS_OPS:
            launcher = StepLauncher.install(job, zygote or Zygote.start(baseline))
        elif zygote is not None:
            zygote.close()  # a job without step processes
        sys.argv = [job["driver"]] + list(job["argv"])  # as `python driver.py REQUEST RESULT` has it
        dispatch.handle(sys.argv)
        code = 0
        # The job's answer is complete (its result, its output): the worker hears it now. Letting
        # the zygote go (it frees its memory as it leaves) and reporting what the job learned
        # come after; the worker learns from a job once it has reaped it.
        tell_over(code, tell)
        tell = None
        if launcher is not None:
            launcher.close()
        report_learned(baseline, job.get("job_dir"), "job" if job.get("learn_pages") else None, patterns_before)
    except BaseException:
        traceback.print_exc()
    finally:
        leave(code, tell)


def spare_child(sock, worker_pid, working):
    """A job child forked before its job, while the worker is idle: prepared, its zygote and a
    spare step process forked, the pages a job and a step write copied ahead (`working`: "job"
    and "step" runs, `spare.prefault`; none before the worker has learned them); then it waits
    on `sock` for the job the worker hands it (a line of JSON), or leaves when the worker closes it."""
    code = 0
    try:
        spare.die_with_parent(worker_pid)
        prepare_job_process()
        zygote = Zygote.start(set(sys.modules), spare_step=working["step"] if working else [], closing=[sock])
        spare.prefault(lambda: spare.readable(sock), working["job"] if working else [])
        received = b""
        while not received.endswith(b"\n"):
            chunk = sock.recv(MAX_MESSAGE)
            if not chunk:
                zygote.close()
                leave(0)  # retired, or the worker is gone
            received += chunk
        handed = json.loads(received)
        spare.die_with_parent(None)  # a job now: it outlives the worker, as every job does
    except BaseException:
        traceback.print_exc()
        code = 1
    if code:
        leave(code)
    job_child(handed["job"], handed["env_changes"], handed["env_removed"], sock, zygote)
