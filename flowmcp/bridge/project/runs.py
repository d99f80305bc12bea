"""Runs as the agent sees them: records with one true status, listings, and the file a run came from.

Every status here is Metaflow's (local failures never get finished=True; attempt_ok=False is the
only signal), corrected by flowmcp's ledger of the runs it started (`flowmcp/state/ledger.py`).
"""

import os
from pathlib import Path

from ...state.layout import STATE_DIR
from ...state.ledger import RunLedger, process_start
from ...summarize import splits
from ...summarize.text import cut_middle
from .. import metaflow_compat as compat

MAX_LOG_CHARS = 200_000  # of a failed task's stdout and stderr read for its failure summary


MAX_FAILED_SPLITS = 20  # per step in a run's record; the answer names a few and counts the rest




def timestamp(dt):
    if dt is None:
        return None
    try:
        return dt.timestamp()
    except Exception:
        return None


def task_meta(task):
    try:
        return task.metadata_dict
    except Exception:
        return {}


def task_status(task, meta=None):
    """'succeeded', 'failed' or 'running' from what a local task leaves behind.

    Local failures never get finished=True; attempt_ok=False is the only signal."""
    meta = task_meta(task) if meta is None else meta
    ok = meta.get("attempt_ok")
    if ok == "True":
        return "succeeded"
    if ok == "False":
        return "failed"
    try:
        if task.finished:
            return "succeeded" if task.successful else "failed"
    except Exception:
        pass
    # A process that ended without Python's help (os._exit, a signal) records no attempt_ok;
    # Metaflow's runtime still saved its exit status
    try:
        runtime = compat.task_runtime_record(task.pathspec, task.current_attempt)
    except Exception:
        runtime = None
    if runtime and not runtime.get("success") and not runtime.get("killed"):
        return "failed"
    return "running"


def task_times(task):
    """(start, end) epoch seconds; `end` from the attempt's last status record.

    Failed local tasks have no `finished_at`, but their attempt_ok record carries a time."""
    start = timestamp(getattr(task, "created_at", None))
    try:
        stamps = [m.created_at / 1000.0 for m in task.metadata  # epoch milliseconds
                  if m.name in ("attempt-done", "attempt_ok") and m.created_at]
    except Exception:
        stamps = []
    return start, (max(stamps) if stamps else None)


def run_record(run, detail=False):
    """Status, times and steps of one run; `detail` adds per-step tasks and the failure."""
    if not detail:
        quick = _successful_run_record(run)
        if quick is not None:
            return quick
    steps = []
    failed = None
    run_start = timestamp(run.created_at)
    run_end = None
    step_objs = list(run)
    step_objs.reverse()  # the client lists newest first
    for step in step_objs:
        tasks = list(step)
        statuses = []
        starts, ends = [], []
        failed_splits = []
        cloned = bool(tasks)
        for task in tasks:
            meta = task_meta(task)
            cloned = cloned and "origin-task-id" in meta  # resume reused this task of the origin run
            st = task_status(task, meta)
            statuses.append(st)
            if st == "failed":
                split = splits.from_metadata(meta, splits=len(tasks))
                if split is not None:
                    failed_splits.append(split)
            s, e = task_times(task)
            if s:
                starts.append(s)
            if e:
                ends.append(e)
            if st == "failed" and failed is None:
                failed = task
        if "failed" in statuses:
            sstatus = "failed"
        elif "running" in statuses or not statuses:
            sstatus = "running"
        else:
            sstatus = "succeeded"
        duration = (max(ends) - min(starts)) if starts and ends else None
        if ends:
            run_end = max(run_end or 0, max(ends))
        cloned = cloned and sstatus == "succeeded"
        steps.append(
            {
                "step": step.id,
                "status": sstatus,
                "tasks": len(tasks),
                "failed_tasks": statuses.count("failed"),
                "failed_splits": sorted(failed_splits, key=splits.order)[:MAX_FAILED_SPLITS],
                "duration_s": round(duration, 3) if duration is not None else None,
                "started_at": min(starts) if starts else None,
                "cloned": cloned,
            }
        )
    steps.sort(key=lambda s: s["started_at"] or 0)
    try:
        finished = run.finished
        successful = run.successful
    except Exception:
        finished = successful = False
    if successful:
        status = "succeeded"
    elif failed is not None or finished:
        status = "failed"
    else:
        status = "running"  # no failure recorded and not finished: still going (or killed)
    try:
        tags = sorted(t for t in run.user_tags)
    except Exception:
        tags = []
    entry = ledger_entry(run.parent.id, run.id)
    status, why = true_status(status, entry)
    rec = {
        "pathspec": run.pathspec,
        "run_id": run.id,
        "status": status,
        "started_at": run_start,
        "duration_s": round(run_end - run_start, 3) if run_end and run_start else None,
        "failed_step": failed.parent.id if failed is not None else ((entry or {}).get("failure") or {}).get("step"),
        "failed_task": failed.pathspec if failed is not None else None,
        "tags": tags,
        "file": (entry or {}).get("file"),
    }
    if why:
        rec["ended"] = why
        if (entry or {}).get("failure", {}).get("message") == why:
            rec["outside_failure"] = entry["failure"]
    for key in ("warm", "path_note", "notes"):  # how flowmcp ran it (runs it started)
        if key in (entry or {}):
            rec[key] = entry[key]
    if detail:
        rec["steps"] = steps
        rec["parameters"] = run_parameters(run)
        cloned = {s["step"] for s in steps if s["cloned"]}
        origin = origin_run(run)
        if origin:
            restarted = next((s["step"] for s in steps if s["step"] not in cloned), None)
            rec["resumed_from"] = origin + (" at %s" % restarted if restarted else "")
        if failed is not None:
            rec["failure"] = task_failure(failed)
    return rec


MAX_PARAMETER_CHARS = 200  # of one parameter's value in a record


def run_parameters(run):
    """The values a run's Parameters had (defaults included), as Metaflow saved them in the run's
    `_parameters` task: JSON values, or a short text of anything else."""
    out = {}
    try:
        artifacts = list(run["_parameters"].task.artifacts)
    except Exception:
        return out
    for artifact in artifacts:
        if artifact.id == "name" or artifact.id.startswith("_"):
            continue
        try:
            value = artifact.data
        except Exception as ex:
            out[artifact.id] = "<unreadable: %s>" % type(ex).__name__
            continue
        if isinstance(value, (bool, int, float)) or value is None:
            out[artifact.id] = value
        elif isinstance(value, str):
            out[artifact.id] = cut_middle(value, MAX_PARAMETER_CHARS)
        else:
            out[artifact.id] = cut_middle(repr(value), MAX_PARAMETER_CHARS)
    return out


def origin_run(run):
    """The run a resumed run was resumed from (Flow/run_id), else None. Metaflow says "None" for
    a run that was not resumed (2.19.39's `Run.origin_pathspec` for every run)."""
    try:
        origin = run.origin_pathspec
    except Exception:
        return None
    if not origin or origin.rsplit("/", 1)[-1] in ("None", ""):
        return None
    return origin


def ledger_entry(flow_name, run_id):
    """What flowmcp recorded of a run it started (`flowmcp/state/ledger.py`), or None."""
    root = os.environ.get("FLOWMCP_ROOT") or os.getcwd()
    return RunLedger(Path(root) / STATE_DIR).read(flow_name, str(run_id))


def _alive(entry):
    """Whether the process that drives a run is still there (False: gone; None: unknown)."""
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # someone else's process: it exists
    started, now = entry.get("pid_start"), process_start(pid)
    return not (started and now and now != started)  # a different start time: the pid was reused


def true_status(status, entry):
    """Metaflow's view of a run, corrected by what flowmcp knows of its processes: a run flowmcp
    stopped is "cancelled" or "timed_out", and one whose processes are gone is never "running".
    Returns (status, why) with `why` set when it differs from Metaflow's."""
    if entry is None or status == "succeeded":
        return status, None
    ended = entry.get("ended") or {}
    if ended.get("status") in ("cancelled", "timed_out"):
        return ended["status"], ended.get("message") or ended["status"]
    failure = entry.get("failure") or {}
    if status == "running" and failure.get("message"):  # it failed outside any task: flowmcp saw it end
        return "failed", failure["message"]
    if status == "running" and _alive(entry) is False:
        return "failed", ("its processes are gone: it ended without recording an end (the server that "
                          "started it stopped, or it was killed)")
    return status, None


def _successful_run_record(run):
    """A finished, successful run, read without visiting every task (list_runs over thousands
    of runs); None for any other run, which needs the full walk to find its failed step."""
    try:
        if not run.successful:
            return None
        start, end = timestamp(run.created_at), timestamp(run.finished_at)
        tags = sorted(run.user_tags)
    except Exception:
        return None
    return {
        "pathspec": run.pathspec,
        "run_id": run.id,
        "status": "succeeded",
        "started_at": start,
        "duration_s": round(end - start, 3) if start and end else None,
        "failed_step": None,
        "failed_task": None,
        "tags": tags,
        "file": (ledger_entry(run.parent.id, run.id) or {}).get("file"),
    }


def task_failure(task):
    """What a failed task left: its stored exception, stderr tail and stdout tail."""
    out = {"task": task.pathspec, "step": task.parent.id}
    try:
        exc = task.exception
        if exc is not None:
            out["stored_exception"] = {
                "type": getattr(exc, "type", None),
                "message": str(getattr(exc, "exception", ""))[:4000],
                "stacktrace": getattr(exc, "stacktrace", None),
            }
    except Exception:
        pass
    out["stderr"] = bounded_log(task, "stderr")
    out["stdout"] = bounded_log(task, "stdout")
    try:
        runtime = compat.task_runtime_record(task.pathspec, task.current_attempt)
    except Exception:
        runtime = None
    if runtime and runtime.get("return_code"):  # the process ended without a Python exception
        out["return_code"] = runtime["return_code"]
    return out


def bounded_log(task, stream, max_chars=MAX_LOG_CHARS):
    """A task's log, its head and tail kept: tracebacks sit at the end, context at the start."""
    try:
        text = getattr(task, stream) or ""
    except Exception:
        return ""
    return cut_middle(text, max_chars, head=(1, 4))


def spin_record(flow_name, run_id):
    """A spin 'run' holds one step with one task: report it like a run."""
    steps = compat.spin_steps(flow_name, run_id)
    step = steps[0] if steps else "?"
    task = compat.spin_task("%s/%s/%s/0" % (flow_name, run_id, step))
    meta = task_meta(task)
    status, why = true_status(task_status(task, meta), ledger_entry(flow_name, run_id))
    start, end = task_times(task)
    return {
        "ended": why,
        "pathspec": "%s/%s" % (flow_name, run_id),
        "run_id": run_id,
        "status": status,
        "started_at": start,
        "duration_s": round(end - start, 3) if start and end else None,
        "failed_step": step if status == "failed" else None,
        "failed_task": task.pathspec if status == "failed" else None,
        "tags": [],
        "spin_step": step,
    }


def run_sort_key(run_id):
    run_id = str(run_id)
    return (0, int(run_id), "") if run_id.isdigit() else (1, 0, run_id)




def flow_run_ids(flow_name):
    """Run ids of a flow, newest first, from the local datastore's folder names.

    Listing folders is cheap; loading every run's metadata to sort 10,000 runs is not."""
    names = compat.local_run_ids(flow_name)
    names.sort(key=run_sort_key, reverse=True)
    return names
