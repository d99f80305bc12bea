"""Runs as the agent sees them: records with one true status, listings, and the file a run came from.

Every status here is Metaflow's (local failures never get finished=True; attempt_ok=False is the
only signal), corrected by flowmcp's ledger of the runs it started (`flowmcp/ledger.py`).
"""

import json
import os
from pathlib import Path

from ...ledger import RunLedger, process_start
from ...summarize import splits
from ...summarize.text import cut_middle
from .. import metaflow_compat as compat
from ..protocol import AMBIGUOUS_STEP, NO_RUN, NO_TASK, NOT_FOUND, STATE_DIR, JobError

MAX_LOG_CHARS = 200_000  # of a failed task's stdout and stderr read for its failure summary


STATUS_SCAN_LIMIT = 5000  # runs examined at most when filtering list_runs by status
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
    """What flowmcp recorded of a run it started (`flowmcp/ledger.py`), or None."""
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


def op_runs(req):
    compat.any_namespace()
    flow_name = req["flow_name"]
    status = req.get("status", "any")
    limit = int(req.get("limit", 10))
    cursor = req.get("cursor")
    identity = req.get("identity")
    run_ids = flow_run_ids(flow_name)
    spin_ids = set()
    if req.get("include_spins"):
        spin_ids = set(compat.spin_run_ids(flow_name))
        run_ids = sorted(set(run_ids) | spin_ids, key=run_sort_key, reverse=True)
    total = len(run_ids) if identity is None else None  # counting another file's runs out means reading them all
    if cursor:
        run_ids = [r for r in run_ids if run_sort_key(r) < run_sort_key(cursor)]
    out = []
    examined = unattributed = 0
    next_cursor = None
    for rid in run_ids:
        if examined >= STATUS_SCAN_LIMIT:
            next_cursor = rid
            break
        examined += 1
        try:
            if rid in spin_ids:
                rec = spin_record(flow_name, rid)
            else:
                run = compat.run("%s/%s" % (flow_name, rid))
                if identity is not None:
                    source = run_file(run, identity)
                    if source != identity["file"]:
                        unattributed += source is None
                        continue
                rec = run_record(run)
        except Exception:
            continue
        if status != "any" and rec["status"] != status:
            continue
        out.append(rec)
        if len(out) >= limit:
            break
    if len(out) >= limit:
        last = out[-1]["run_id"]
        if any(run_sort_key(r) < run_sort_key(last) for r in run_ids):
            next_cursor = last
    return {"runs": out, "next_cursor": next_cursor, "total_runs": total, "unattributed": unattributed}


def run_file(run, identity):
    """Which of the files that define this flow class a run came from, or None when it cannot be
    told: flowmcp's ledger for the runs it started, else the script name Metaflow recorded, else
    the only file whose steps include every step the run ran."""
    entry = ledger_entry(run.parent.id, run.id)
    if entry and entry.get("file"):
        return entry["file"]
    candidates = [identity] + list(identity.get("rivals") or [])
    try:
        # Every task records the script; any step will do (the entry step need not be `start`:
        # Metaflow 2.19.23 added @step(start=True) and single-step flows)
        script = task_meta(next(iter(run)).task).get("script-name")
    except Exception:
        script = None
    if script:
        candidates = [c for c in candidates if os.path.basename(c["file"]) == script]
    if len(candidates) > 1:
        try:
            ran = {step.id for step in run}
        except Exception:
            ran = set()
        candidates = [c for c in candidates if ran and ran <= set(c["steps"])]
    return candidates[0]["file"] if len(candidates) == 1 else None




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


def op_flows(req):
    """Flows in the root with their latest run (list_runs without a flow)."""
    compat.any_namespace()
    out = []
    for fd in req["flow_files"]:
        entry = {"file": fd["file"], "flow_name": fd.get("flow_name")}
        name = fd.get("flow_name")
        identity = fd.get("identity")
        if name:
            ids = flow_run_ids(name)
            runs = runs_of(name, ids, identity)
            entry["runs"] = len(ids) if identity is None else sum(1 for _ in runs_of(name, ids, identity))
            latest = next(runs, None)
            if latest is not None:
                try:
                    entry["latest_run"] = run_record(latest)
                except Exception:
                    entry["latest_run"] = None
        out.append(entry)
    return {"flows": out}


def runs_of(flow_name, run_ids, identity):
    """The runs among `run_ids` (newest first) that came from the identity's file."""
    for rid in run_ids:
        try:
            run = compat.run("%s/%s" % (flow_name, rid))
        except Exception:
            continue
        if identity is None or run_file(run, identity) == identity["file"]:
            yield run


def op_run_detail(req):
    compat.any_namespace()
    try:
        run = compat.run(req["pathspec"])
    except Exception as ex:
        if type(ex).__name__ != "MetaflowNotFound":
            raise
        raise JobError(NO_RUN, "No run %s in this project. list_runs(flow) shows the runs." % req["pathspec"])
    return run_record(run, detail=True)


def runs_newest_first(flow_name, identity=None):
    return runs_of(flow_name, flow_run_ids(flow_name), identity)


def open_task(pathspec, spin_meta, split=None):
    """The task a pathspec names: Flow/run/step/task, or a step of one task; for a foreach step,
    the task of `split` (an input value or an index). A step of many tasks and no split is a
    JobError listing the splits by value (`tasks_by_split` answers for all of them)."""
    parts = pathspec.strip("/").split("/")
    if spin_meta:
        if len(parts) == 3:
            parts.append("0")
        return compat.spin_task("/".join(parts))
    if len(parts) == 4:
        try:
            return compat.task("/".join(parts))
        except Exception as ex:
            raise_not_found(pathspec, ex)
    tasks = tasks_by_split(pathspec)
    if split is not None:
        return _task_of_split(pathspec, tasks, split)
    if len(tasks) != 1:
        raise JobError(
            AMBIGUOUS_STEP,
            "%s has %d tasks (a foreach); name one: %s." % (pathspec, len(tasks), splits_listing(tasks)),
        )
    return tasks[0][1]


MAX_SPLITS_LISTED = 8
MAX_NAMES_LISTED = 10


def raise_not_found(pathspec, error):
    """A pathspec Metaflow does not know, answered by its first part that does not exist and what
    does exist there (the newest runs, a run's steps, a step's tasks). Other errors go up as they are."""
    if type(error).__name__ != "MetaflowNotFound":
        raise error
    parts = pathspec.strip("/").split("/")
    flow, run_id = parts[0], parts[1] if len(parts) > 1 else None
    ids = flow_run_ids(flow)
    if not ids:
        raise JobError(NOT_FOUND, "%s has no runs in this project; run(flow) makes one." % flow)
    if run_id not in ids:
        raise JobError(NO_RUN, "No run %s/%s in this project; the newest runs of %s are %s. list_runs(flow) lists "
                               "them all." % (flow, run_id, flow, ", ".join(ids[:3])))
    run = compat.run("%s/%s" % (flow, run_id))
    steps = sorted(s.id for s in run)
    if len(parts) > 2 and parts[2] not in steps:
        raise JobError(NOT_FOUND, "No step %r in %s/%s; the steps that ran are %s."
                       % (parts[2], flow, run_id, ", ".join(steps[:MAX_NAMES_LISTED]) or "none"))
    tasks = tasks_by_split("/".join(parts[:3]))
    raise JobError(NO_TASK, "No task %s in %s; its tasks are %s."
                   % (parts[3] if len(parts) > 3 else "?", "/".join(parts[:3]), splits_listing(tasks)))


def tasks_by_split(pathspec):
    """[(split, task)] of a step, by split index (split None outside a foreach)."""
    try:
        step = compat.step(pathspec.strip("/"))
        tasks = list(step)
    except Exception as ex:
        raise_not_found(pathspec, ex)
    pairs = [(splits.from_metadata(task_meta(t), splits=len(tasks)), t) for t in tasks]
    return sorted(pairs, key=lambda pair: (splits.order(pair[0]), pair[1].id))


def splits_listing(tasks):
    """`split 0, input='a' (task 2); …` for an answer that asks the agent to pick one."""
    shown = ["%s (task %s)" % (splits.label(split), task.id) if split else "task %s" % task.id
             for split, task in tasks[:MAX_SPLITS_LISTED]]
    more = len(tasks) - MAX_SPLITS_LISTED
    return "; ".join(shown) + ("; and %d more" % more if more > 0 else "")


def _task_of_split(pathspec, tasks, wanted):
    chosen = splits.choose(tasks, wanted)
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        raise JobError(NO_TASK, "%s has no split %r: %s." % (pathspec, wanted, splits_listing(tasks)))
    matching = [p for p in tasks if p[1] in chosen]
    raise JobError(AMBIGUOUS_STEP, "%d splits of %s match %r; pass split= one of %s (%s)."
                   % (len(chosen), pathspec, wanted, ", ".join(json.dumps(splits.argument(s)) for s, _ in matching[:8]),
                      splits_listing(matching)))
