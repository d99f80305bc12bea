"""SPIN: re-run one step with its parent's state, through Metaflow's own spin, with its bugs guarded.

The source task is chosen on purpose (the latest successful run of this file, the foreach split
asked for by value or index, else the first) and said; an artifacts module is imported first so
its errors read as what they are; `latest_run` is put back after Metaflow's spin overwrites it.
"""

import importlib.util
import json
import os
import sys
import time

from ...summarize import cards as card_summaries
from ...summarize import splits
from .. import capture
from .. import metaflow_compat as compat
from ..protocol import (
    BAD_ARTIFACTS_MODULE,
    BAD_RUN,
    JOIN_TOO_WIDE,
    NO_RUN,
    NO_RUNS,
    NO_TASK,
    STEP_NOT_IN_RUN,
    JobError,
)
from . import cli, listing, runs
from .memory import OomWatch


def resolve_source(req):
    """The original task a spin re-runs: explicit run/task, else the latest successful run.

    Metaflow itself takes `latest_run` (a spin or a failed run may have set it) and, for a
    foreach, whichever split was created last; we pick deliberately and say what we picked."""
    compat.any_namespace()
    flow_name, step = req["flow_name"], req["step"]
    run_arg, task_arg = req.get("run"), req.get("task")
    notes = []
    if run_arg:
        run_arg = str(run_arg)
        parts = run_arg.split("/")
        if len(parts) == 1:
            run_id = parts[0]
        elif len(parts) == 2 and parts[0] == flow_name:
            run_id = parts[1]
        else:
            raise JobError(
                BAD_RUN,
                "run must be a run id ('1718') or a pathspec '%s/1718'; got %r." % (flow_name, run_arg),
            )
        try:
            run = compat.run("%s/%s" % (flow_name, run_id))
        except Exception:
            raise JobError(
                NO_RUN,
                "No run %s/%s in this project. Call list_runs(flow=...) to see the runs."
                % (flow_name, run_id),
            )
        chosen = "given"
    else:
        run = None
        newest = None
        for candidate in listing.runs_newest_first(flow_name, req.get("identity")):
            if newest is None:
                newest = candidate
            try:
                if candidate.successful:
                    run = candidate
                    break
            except Exception:
                continue
        if run is None:
            if newest is None:
                raise JobError(
                    NO_RUNS,
                    "%s has no runs yet, so there is no parent state to spin %s with. "
                    "Call run(flow=...) once first; then spin reuses that run's artifacts."
                    % (flow_name, step),
                )
            # No success at all: a failed run can still hold the parent's artifacts.
            run = newest
            chosen = "latest (no successful run exists)"
            notes.append(
                "no successful run of %s exists; took state from the latest run %s"
                % (flow_name, run.pathspec)
            )
        else:
            chosen = "latest successful"
    try:
        step_obj = run[step]
    except KeyError:
        steps_in_run = [s.id for s in run]
        raise JobError(
            STEP_NOT_IN_RUN,
            "Step %r did not run in %s (it ran: %s), so spin has no original task to re-run. "
            "Spin needs the step to have run once: call run(flow=...) to record it, "
            "or pick another run." % (step, run.pathspec, ", ".join(sorted(steps_in_run)) or "nothing"),
        )
    tasks = list(step_obj)  # newest first, as Metaflow's own spin sees them
    if not tasks:
        raise JobError(NO_TASK, "Step %s has no tasks in %s." % (step, run.pathspec))
    split_arg = req.get("split")
    if task_arg is not None:
        tid = str(task_arg).split("/")[-1]
        match = [t for t in tasks if t.id == tid]
        if not match:
            ids = ", ".join(sorted(t.id for t in tasks)[:20])
            raise JobError(
                NO_TASK,
                "No task %s in %s/%s; its tasks are: %s." % (tid, run.pathspec, step, ids),
            )
        task = match[0]
        split = split_of(task, len(tasks))
    elif len(tasks) > 1 or split_arg is not None:
        task, split, note = _choose_split(run, step, tasks, split_arg)
        if note:
            notes.append(note)
    else:
        task = tasks[0]
        split = split_of(task, len(tasks))
    if req.get("step_type") == "join":
        _check_join_width(task)
    try:
        run_ok = run.successful
    except Exception:
        run_ok = False
    try:
        attempt = int(task.current_attempt)
    except Exception:
        attempt = None
    return {
        "run_pathspec": run.pathspec,
        "attempt": attempt,  # the source task's last attempt: > 0 when @retry ran it again
        "run_status": "succeeded" if run_ok else runs.run_record(run)["status"],
        "run_chosen": chosen,
        "task_pathspec": task.pathspec,
        "split": split,
        "notes": notes,
    }


MAX_VALUES_LISTED = 8  # a foreach's input values named when an agent must pick one


def split_of(task, splits_count=None):
    """A task's foreach split (summarize/splits.py), from the metadata Metaflow wrote for it."""
    return splits.from_metadata(runs.task_meta(task), splits=splits_count)


def _choose_split(run, step, tasks, wanted):
    """The task of the split asked for (by input value, else index), or the first split; and
    the note that says which one was spun, and what Metaflow's own spin would have taken."""
    known = [(split_of(t, len(tasks)), t) for t in tasks]
    listed = sorted((s for s, _ in known if s), key=splits.order)
    values = ", ".join(splits.path_text(s) for s in listed[:MAX_VALUES_LISTED])
    values += ", …" if len(listed) > MAX_VALUES_LISTED else ""
    if wanted is not None:
        chosen = splits.choose(known, wanted)
        if not chosen:
            raise JobError(
                NO_TASK,
                "%s/%s has no split %r: its %d splits have the inputs %s (pass split= one of those, or an "
                "index from 0 to %d)." % (run.pathspec, step, wanted, len(tasks), values or "?", len(tasks) - 1),
            )
        if len(chosen) > 1:
            raise JobError(
                NO_TASK,
                "%d splits of %s/%s match %r; pass split= one of these instead: %s."
                % (len(chosen), run.pathspec, step, wanted,
                   ", ".join(json.dumps(splits.argument(split_of(t))) for t in chosen[:MAX_VALUES_LISTED])),
            )
        task = chosen[0]
        return task, split_of(task, len(tasks)), None  # the answer's status line names it
    # The first split by index, so that repeated spins are the same spin
    ordered = sorted(known, key=lambda pair: splits.order(pair[0]))
    split, task = ordered[0]
    theirs = known[0][0]  # Metaflow's `spin STEP` takes the task its Client lists first
    cli = ""
    if theirs is not None and splits.order(theirs) != splits.order(split):
        cli = " (Metaflow's own `spin %s` would take %s)" % (step, splits.label(theirs))
    nested = " (one per level, outermost first, joined by /)" if split and split.get("outer") else ""
    return task, split, ("%s has %d foreach splits; spun %s, the first%s. Pass split= an input value or an "
                         "index%s to spin another; the inputs are %s." % (step, len(tasks), splits.label(split),
                                                                          cli, nested, values or "?"))


MAX_SPIN_JOIN_INPUTS = 4  # Metaflow 2.19's spin loses inputs of wider joins


def _check_join_width(task):
    """Metaflow 2.19 cannot spin a join of 5 or more inputs ("Data missing: Some input
    datastores are missing"): say so before launching instead of failing obscurely."""
    try:
        inputs = len(list(task.parent_tasks))
    except Exception:
        return
    if inputs > MAX_SPIN_JOIN_INPUTS:
        raise JobError(
            JOIN_TOO_WIDE,
            "%s joins %d inputs, and Metaflow 2.19's spin cannot re-run a join of 5 or more inputs (a "
            "known bug: its input datastores go missing). Spin the steps before the join instead, or "
            "run(flow) to exercise it." % (task.pathspec, inputs),
        )


def validate_artifacts_module(path):
    """Metaflow 2.19 reports a broken artifacts module as `NameError: MetaflowInternalError`:
    import it here first and say what is actually wrong."""
    name = "_flowmcp_artifacts_check"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as ex:
        raise JobError(
            BAD_ARTIFACTS_MODULE,
            "artifacts_module %s raised on import: %s: %s" % (os.path.basename(path), type(ex).__name__, ex),
            exception=capture.exception_record(ex),
        )
    finally:
        sys.modules.pop(name, None)
    artifacts_ = getattr(module, "ARTIFACTS", None)
    if artifacts_ is None:
        raise JobError(
            BAD_ARTIFACTS_MODULE,
            "artifacts_module %s defines no ARTIFACTS; add ARTIFACTS = {\"name\": value, ...}."
            % os.path.basename(path),
        )
    if not isinstance(artifacts_, dict) or not all(isinstance(k, str) for k in artifacts_):
        raise JobError(
            BAD_ARTIFACTS_MODULE,
            "ARTIFACTS in %s must be a dict with artifact names as keys; it is a %s."
            % (os.path.basename(path), type(artifacts_).__name__),
        )
    return sorted(artifacts_)


def op_spin(req):
    flow_name = req["flow_name"]
    overridden = None
    if req.get("artifacts_module"):
        overridden = validate_artifacts_module(req["artifacts_module"])
    source = resolve_source(req)
    if overridden and req.get("step_type") == "join":
        # A join's overrides are keyed by input pathspec; Metaflow ignores flat names there (the
        # tool says so), so only the keyed ones override anything.
        overridden = [name for name in overridden if "/" in name]
    if overridden:
        source["notes"].append("inputs overridden: " + ", ".join(overridden))
    argv = ["--quiet", "--no-pylint"]
    if req.get("environment"):
        argv += ["--environment", req["environment"]]
    argv += ["spin", source["task_pathspec"], "--run-id-file", req["run_id_file"]]
    argv.append("--persist" if req.get("persist") else "--no-persist")
    if req.get("artifacts_module"):
        argv += ["--artifacts-module", req["artifacts_module"]]
    started = time.time()
    try:
        with OomWatch() as oom:
            code, caught = cli.run_cli(req["flow_file"], argv)
    finally:
        repair_latest_run(flow_name)
    elapsed = time.time() - started
    spin_run_id = cli.read_text(req["run_id_file"])
    out = {
        "source": source,
        "exit_code": code,
        "cli_error": caught or None,
        "elapsed_s": round(elapsed, 3),
        "spin_run_id": spin_run_id,
        **oom.result(),
    }
    if spin_run_id:
        out["task"] = read_spin_task(req, flow_name, spin_run_id, req["step"])
    return out


def repair_latest_run(flow_name):
    """Point `latest_run` back at a real run when a spin left its own id there.

    Spin writes its id to latest_run (even when it fails), which breaks a later `resume`. Saving
    and restoring the file would race with a run or another spin started meanwhile; instead,
    whenever the file names a spin, it gets the newest real run's id (run ids are start times),
    or is removed when there is none. A real run's id is never touched."""
    path = compat.latest_run_file(flow_name)
    current = cli.read_text(path) if path else None
    if not current or current not in set(compat.spin_run_ids(flow_name)):
        return
    written = None
    for _ in range(3):
        # A run starting meanwhile writes its own id: if the newest real run changed while this
        # wrote an older one, write again (run ids are start times: the newest wins, as it should)
        real = runs.flow_run_ids(flow_name)
        if not real:
            try:
                os.unlink(path)
            except OSError:
                pass
            return
        if real[0] == written:
            return
        now = cli.read_text(path)
        if now != current and now != written:
            return  # someone else wrote it since: theirs stands
        written = real[0]
        tmp = "%s.flowmcp-%d" % (path, os.getpid())
        with open(tmp, "w") as f:
            f.write(written)
        os.replace(tmp, path)


def read_spin_task(req, flow_name, run_id, step):
    pathspec = "%s/%s/%s/0" % (flow_name, run_id, step)
    out = {"pathspec": pathspec, "cards": [path for _, path in compat.spin_card_files(pathspec)]}
    failed = {}
    for path in out["cards"]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                error = card_summaries.render_error(f.read())
        except OSError:
            error = None
        if error:
            failed[path] = error
    if failed:
        out["card_errors"] = failed
    try:
        task = compat.spin_task(pathspec)
    except Exception as ex:
        out["status"] = "failed"
        out["read_error"] = "%s: %s" % (type(ex).__name__, ex)
        return out
    meta = runs.task_meta(task)
    out["status"] = runs.task_status(task, meta)
    out["stdout"] = runs.bounded_log(task, "stdout")
    out["stderr"] = runs.bounded_log(task, "stderr")
    return out

