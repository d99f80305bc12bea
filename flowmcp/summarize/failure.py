"""Failure summaries: from what a failed job left behind to a few lines an agent can act on.

`best_failure(...)` builds a `Failure` (failure_data.py) from the best source available
(failure_sources.py): the live exception captured in the step process, else Metaflow's own
structured error, else the printed traceback; `failure_render.render` draws it, headline first,
and `as_model` gives the tools' typed answer.
"""

from __future__ import annotations

from pathlib import Path

from .. import models
from . import attempts, hints, shown_warnings, splits
from .failure_data import MAX_MESSAGE_CHARS, Failure
from .failure_render import render
from .failure_sources import (
    from_capture,
    from_exit,
    from_metaflow_error,
    from_persist_error,
    from_traceback_text,
)
from .text import cut_middle


def best_failure(*, step: str | None, task: str | None, captures: list[dict], cli_error: dict | None,
                 stderr: str = "", output: str = "", root: Path, flow_file: Path | None = None,
                 step_names: list[str] | None = None, step_decorators: list[str] | None = None,
                 spin: bool = False, memory: dict | None = None, return_code: int | None = None,
                 graph: list[dict] | None = None, stale: list[str] | None = None,
                 source_attempt: int | None = None, parameters: list[dict] | None = None) -> Failure:
    """The best summary of what a failed job left, the most structured source first: the step
    process's record, Metaflow's own error, an error of the process that started Metaflow's CLI,
    a printed traceback, and last the exit status. `graph`: the flow's steps as described (type,
    inputs, split parents), for hints that depend on where a step sits; `stale`: the steps
    edited since the run whose state a spin used; `parameters`: the flow's Parameters as declared."""
    summary = None
    tasks = [t for t in attempts.by_task(captures) if step is None or t.step == step]
    # Only a task's last attempt says how it ended: an attempt @retry ran again did not fail it
    failed = [t for t in tasks if attempts.exception_of(t.last)]
    unsaved = [t.last for t in tasks if t.last.get("persist_error")]
    metaflow_error = (cli_error or {}).get("metaflow")
    if failed:
        summary = from_capture(failed[-1].last, root, step=step, task=task, flow_file=flow_file, spin=spin,
                               graph=graph, stale=stale, parameters=parameters)
        summary.hints[:0] = _attempts(failed[-1], root, summary.headline())
    elif unsaved:
        summary = from_persist_error(unsaved[-1], root, step=step, task=task, flow_file=flow_file)
    elif metaflow_error and metaflow_error.get("type") == "TaskFailed":
        # No record from the step process: it printed its traceback (the capture hook is off with
        # this Metaflow), or it died without a Python exception (a signal, os._exit) and Metaflow
        # only knows its return code.
        summary = (from_traceback_text(stderr, root) or from_traceback_text(output, root)
                   or from_exit(step, metaflow_error.get("message", "") + "\n" + output, memory, return_code))
        summary.step, summary.task = summary.step or step, task
    elif metaflow_error:
        summary = from_metaflow_error(metaflow_error, root, step_names, flow_file)
    elif cli_error and (cli_error.get("syntax") or cli_error.get("exception")):
        # Raised in the process that started Metaflow's CLI, not in a step: the flow (its module
        # code, its configs, its decorators) is what failed.
        record = cli_error.get("syntax") or cli_error.get("exception")
        summary = from_capture({"exception": record}, root, flow_file=flow_file)
        summary.origin = "flow"
    if summary is None:
        summary = from_traceback_text(stderr, root) or from_traceback_text(output, root)
        if summary is not None:
            summary.step, summary.task = step, task
    if summary is None:
        summary = from_exit(step, output, memory, return_code)
        summary.task = task
    if not failed:  # an error @retry ran again is not what failed, yet it tells what happened
        summary.hints.extend(retried_lines(captures, root, step=summary.step))
    if spin and summary.origin == "step":
        hints.spin_context(summary, step_decorators or [], source_attempt)
    summary.warnings = shown_warnings.lines(captures, root, step=summary.step)
    return summary


def _attempts(task: attempts.TaskAttempts, root: Path, last_headline: str) -> list[str]:
    """@retry: how many times the task ran, and the first attempt's error when it differed from
    the last one's (`last_headline`, already summarized)."""
    count = (task.last.get("attempt") or 0) + 1
    if count < 2:
        return []
    line = f"Failed on all {count} attempts (@retry); the error of the last one is shown."
    first = task.retried[0] if task.retried else None
    if first is not None:
        first_headline = from_capture(first, root).headline()
        if first_headline != last_headline:
            line += f" Attempt 1 failed with: {first_headline}"
    return [line]


def retried_lines(captures: list[dict], root: Path, step: str | None = None) -> list[str]:
    """Tasks whose attempt raised and that @retry ran again, ending without that error: what
    the error was, once per task (it is not the run's failure, and nothing caught it)."""
    lines = []
    for task in attempts.by_task(captures):
        if (step is not None and task.step != step) or not task.retried or attempts.exception_of(task.last):
            continue
        first = task.retried[0]
        where = f"{task.step}" + (f" ({splits.label(task.split)})" if task.split else "")
        tries = len(task.retried)
        said = "attempt 1 failed" if tries == 1 else f"attempts 1–{tries} failed"
        lines.append(f"@retry: {where} {said} with {from_capture(first, root).headline()}; "
                     f"attempt {tries + 1} ran it again and ended without that error.")
    return lines


def as_model(summary: Failure) -> models.Failure:
    """The summary as the tools' typed answer carries it (rendered included)."""
    where = summary.shown_where
    return models.Failure(
        step=summary.step,
        task=summary.task,
        exception_type=summary.exception_type,
        message=cut_middle(summary.message, MAX_MESSAGE_CHARS),
        file=where.file if where else None,
        line=where.line if where else None,
        function=where.func if where else None,
        code=where.code if where else None,
        hints=summary.hints,
        split=splits.label(summary.split) or None,
        split_argument=splits.argument(summary.split),
        origin=summary.origin,
        fix_at=summary.fix_at,
        summary=render(summary),
    )
