"""The task a pathspec names, for the ops that read one (artifacts, logs, cards): a run's or a
spin's, a step of one task, or a foreach split by its input value or index; and a pathspec that
names nothing, answered with what does exist there."""

import json

from ...summarize import splits
from .. import metaflow_compat as compat
from ..protocol import AMBIGUOUS_STEP, NO_RUN, NO_TASK, NOT_FOUND, JobError
from .runs import flow_run_ids, task_meta


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
