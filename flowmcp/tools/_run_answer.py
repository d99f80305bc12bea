"""A run's answer: the model built from the bridge's record (steps, foreach splits, what @catch kept
and @retry ran again, the failure) and its text, and runs as one-line summaries. `run`, `resume`,
`run_status`, `cancel_run`, `list_runs` and `flow_status` use it; no tool imports another tool's
privates."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from .. import models
from ..app import App, FlowDescription
from ..bridge.client import Ran
from ..bridge.protocol import RunOutcome
from ..summarize import attempts, logs, shown_warnings, splits
from ..summarize import failure as failure_summary
from ..summarize.hints import needed_environment
from ..summarize.text import cut_end
from ._common import artifact_summaries

OUTPUT_TAIL_LINES = 12

ARTIFACT_LINE_CHARS = 200  # per step in the run answer; inspect_artifact has the rest

ARTIFACTS_CHARS = 1200


def fix_the_flow(failure: models.Failure) -> str:
    """Where to look when the flow itself failed (graph, configs, decorators), not a step's run."""
    kind = needed_environment(failure.message)
    if kind:
        return f'run(flow, environment="{kind}"): nothing in the flow is wrong; its @{kind} steps need it'
    if failure.file and failure.line:
        return f"fix {failure.file}:{failure.line} as the message says"
    return "fix what the message names (how the flow is defined or started, not a step's code)"

def is_failure(status: str) -> bool:
    """A run that did not do its job: failed, or stopped by its timeout. A cancelled run was
    stopped on request, and a cancel that worked is a success."""
    return status in ("failed", "timed_out")

def did_not_load(flow_name: str, failure: models.Failure) -> models.RunResult:
    """The answer for a run that could not start because the flow file does not load."""
    return models.RunResult(flow=flow_name, status="failed", failure=failure)

def build_result(app: App, desc: FlowDescription, ran: Ran[RunOutcome], cli_parameters: dict[str, str],
                 tags: list[str], timeout_s: float | None) -> models.RunResult:
    data: RunOutcome = ran.record or {}
    record = data.get("run") or {}
    tail = logs.tail_text(ran.output, max_lines=OUTPUT_TAIL_LINES)
    steps = ordered_steps(desc, record.get("steps", []))
    status = record.get("status") or "failed"
    failure = None
    if ran.timed_out:
        status = "timed_out"
    elif status == "running" and data.get("exit_code"):
        status = "failed"
    if status in ("failed", "timed_out", "cancelled") or data.get("exit_code"):
        # The run is over: a task that never reported its end died with it (a signal, os._exit,
        # our own kill on timeout).
        for s in steps:
            if s.status == "running":
                s.status = "failed"
    if status == "timed_out" and not ran.timed_out:  # read back later (run_status, list_runs)
        failure = stopped("Timeout", record.get("ended") or "stopped by its timeout", steps, tail)
    elif status == "cancelled":
        failure = stopped("Cancelled", record.get("ended") or "cancelled", steps, tail)
    elif ran.timed_out:
        done = ", ".join(s.step for s in steps if s.status == "succeeded") or "no step"
        killed = ", ".join(s.step for s in steps if s.status == "failed") or "none"
        message = f"the run was stopped after {timeout_s:g} s (timeout_s); every step process was killed"
        failure = models.Failure(
            exception_type="Timeout",
            message=message,
            summary=f"Timeout: stopped after {timeout_s:g} s. Finished: {done}; stopped: {killed}.\n"
                    f"Last output:\n{tail}",
        )
    elif status == "failed" and record.get("outside_failure"):  # read back: what flowmcp saw at its end
        seen = record["outside_failure"]
        kind, _, message = seen["message"].partition(": ")
        failure = models.Failure(step=seen.get("step"), exception_type=kind if message else "Failed",
                                 message=message or kind, origin="step" if seen.get("step") else "flow",
                                 summary=seen["message"])
    elif status == "failed" and record.get("ended") and not record.get("failure"):
        failure = stopped("Died", record["ended"], steps, tail)
    elif status == "failed":
        info = record.get("failure") or {}
        stored = info.get("stored_exception") or {}
        died = next((s.step for s in steps if s.status == "failed"), None)
        failure = failure_summary.as_model(failure_summary.best_failure(
            step=info.get("step") or record.get("failed_step") or died,
            task=info.get("task"),
            captures=ran.captures,
            cli_error=data.get("cli_error"),
            stderr=info.get("stderr") or stored.get("stacktrace") or "",
            output=ran.output,
            root=app.config.root,
            flow_file=desc.file,
            step_names=desc.step_names,
            memory=data,  # oom_kills, memory_limit: whether the kernel's OOM killer acted
            return_code=info.get("return_code"),
            graph=desc.steps,
            parameters=desc.parameters,
        ))
    if failure is not None and failure.origin == "step" and failure.task is None:
        # Metaflow rejected what the step's task did after it ended (its self.next): the task
        # succeeded, the step did not
        for s in steps:
            if s.step == failure.step and s.status == "succeeded":
                s.status = "failed"
    artifacts, artifact_splits = _artifacts_by_step(ran.captures, [s.step for s in steps])
    return models.RunResult(
        notes=(_caught(app, desc, ran.captures, steps, failure) if ran.captures else list(record.get("notes") or []))
        + _card_lines(desc, record.get("pathspec"), steps),
        artifacts=artifacts,
        artifact_splits=artifact_splits,
        flow=desc.name,
        pathspec=record.get("pathspec"),
        status=status,
        duration_s=record.get("duration_s") or data.get("elapsed_s"),
        parameters=record.get("parameters") or cli_parameters,  # every value the run had, defaults too
        tags=tags,
        steps=steps,
        failure=failure,
        resumed_from=record.get("resumed_from"),
        output_tail=tail,
        warnings=shown_warnings.lines(ran.captures, app.config.root),
        warm=ran.warm or bool(record.get("warm")),  # read back: as the ledger kept it
        path_note=ran.path_note or record.get("path_note"),
    )

MAX_CAUGHT_SHOWN = 3


def ordered_steps(desc: FlowDescription, records: list[dict]) -> list[models.StepStatus]:
    """A run's steps as models, in graph order (not start times)."""
    order = {name: i for i, name in enumerate(desc.step_names)}
    return sorted(
        (models.StepStatus(step=s["step"], status=s["status"], tasks=s["tasks"],
                           failed_tasks=s["failed_tasks"], duration_s=s["duration_s"],
                           failed_splits=[splits.label(split) for split in s.get("failed_splits") or []],
                           cloned=bool(s.get("cloned")))
         for s in records),
        key=lambda s: order.get(s.step, len(order)),
    )


def _card_lines(desc: FlowDescription, pathspec: str | None, steps: list[models.StepStatus]) -> list[str]:
    """The view_card call for each step of the run that rendered a card (its @card steps that ran)."""
    ran = {s.step for s in steps if s.status == "succeeded"}
    with_cards = [name for name in desc.step_names if name in ran and "card" in desc.step(name).get("decorators", [])]
    if not pathspec or not with_cards:
        return []
    calls = ", ".join(f'view_card(pathspec="{pathspec}/{name}")' for name in with_cards[:4])
    return [f"Cards: see them with {calls}" + (f" and {len(with_cards) - 4} more" if len(with_cards) > 4 else "")]

def _caught(app: App, desc: FlowDescription, captures: list[dict], steps: list[models.StepStatus],
            failure: models.Failure | None) -> list[str]:
    """What @catch kept and what @retry ran again, once per task: a task's last attempt decides.
    An exception counts as caught only in a step that has @catch and whose task went on."""
    ok = {s.step for s in steps if s.status == "succeeded"}
    with_catch = {name for name in desc.step_names if "catch" in desc.step(name).get("decorators", [])}
    tasks = attempts.by_task(captures)
    caught = [t for t in tasks if t.step in ok and t.step in with_catch and attempts.exception_of(t.last)]
    lines = []
    for task in caught[:MAX_CAUGHT_SHOWN]:
        headline = failure_summary.from_capture(task.last, app.config.root).headline()
        total = next((s.tasks for s in steps if s.step == task.step), 1)
        where = (f"{task.step}, {splits.label(task.split)} of {total}" if task.split
                 else f"{task.step} (task {task.task_id})")
        tries = f" after {len(task.records)} attempts" if len(task.records) > 1 else ""
        lines.append(f"@catch caught an exception in {where}{tries}; the run went on: {headline}")
    if len(caught) > MAX_CAUGHT_SHOWN:
        lines.append(f"… and {len(caught) - MAX_CAUGHT_SHOWN} more caught exceptions")
    said = failure.summary if failure else ""
    retried = [line for line in failure_summary.retried_lines(captures, app.config.root) if line not in said]
    return lines + retried[:MAX_CAUGHT_SHOWN]


def stopped(kind: str, message: str, steps: list[models.StepStatus], tail: str) -> models.Failure:
    """A run that ended without an error of its own: stopped by flowmcp, or its processes gone."""
    done = ", ".join(s.step for s in steps if s.status == "succeeded") or "no step"
    stopped = ", ".join(s.step for s in steps if s.status == "failed") or "none"
    summary = f"{kind}: {message}. Finished: {done}; stopped: {stopped}."
    if tail:
        summary += f"\nLast output:\n{tail}"
    return models.Failure(exception_type=kind, message=message, summary=summary)

def _artifacts_by_step(captures: list[dict], order: list[str]) -> tuple[dict[str, list[models.ArtifactSummary]],
                                                                         dict[str, str]]:
    """What each step set, from one task, and for a foreach which split that is: its lowest
    split that set anything speaks for the others, and is named (`split 0, input='a'`)."""
    shown: dict[str, dict] = {}
    for record in sorted(attempts.final(captures), key=_split_order):
        step = record.get("step")
        if record.get("artifacts") and step not in shown:
            shown[step] = record
    by_step = {step: artifact_summaries(shown[step]["artifacts"]) for step in order if step in shown}
    which = {step: splits.label(shown[step]["split"]) for step in by_step if shown[step].get("split")}
    return by_step, which


def _split_order(record: dict) -> tuple:
    return (splits.order(record.get("split")), record.get("task_id") or 0)


def render(app: App, r: models.RunResult) -> str:
    """A failure leads with its headline (file:line in func — Type: message); a success with the run."""
    took = f" in {r.duration_s:.1f} s" if r.duration_s else ""
    params = _parameters_text(r.parameters)
    head = f"{r.pathspec or r.flow} {r.status.replace('_', ' ')}{took}" + (f" ({params})" if params else "")
    lines = []
    if r.failure:
        lines.append(r.failure.summary)
        if r.failure.step:
            which = ", ".join(filter(None, [f"task {r.failure.task}" if r.failure.task else None, r.failure.split]))
            head += f" at step {r.failure.step}" + (f" ({which})" if which else "")
        elif not r.pathspec:
            head += " before any step started"
    if r.steps and r.warm is not None:
        head += " — tasks forked from the warm worker" if r.warm else " — tasks in new interpreters"
    lines.append(head)
    if r.resumed_from:
        origin, _, at = r.resumed_from.partition(" at ")
        lines.append(f"Resumed from {origin}" + (f": reused its steps before {at}, ran {at} on." if at else "."))
    if r.path_note:
        lines.append(r.path_note if r.warm else f"Tasks started as new interpreters: {r.path_note}.")
    lines.extend(r.notes)
    # a failure's summary already tells its step's warnings
    lines.extend(w for w in r.warnings if not (r.failure and w in r.failure.summary))
    # a run that failed in its first step has nothing to list but what the head said
    only_the_failed = r.failure and [(s.step, s.tasks) for s in r.steps] == [(r.failure.step, 1)]
    if r.steps and not only_the_failed:
        stopped = r.status in ("cancelled", "timed_out")
        lines.append("Steps: " + ", ".join(_step(s, stopped) for s in r.steps))
    if r.artifacts:
        lines.append(_render_artifacts(r.artifacts, r.artifact_splits))
    if r.status == "succeeded":
        lines.append(
            f"Next: spin(flow, step) to iterate on one step with this run's state; "
            f"inspect_artifact(\"{r.pathspec}/<step>\", name) to read a value."
        )
    elif r.status == "cancelled":
        lines.append("Next: run(flow) again when you need the run.")
    elif r.status == "timed_out":
        lines.append("Next: run(flow) again with a larger timeout_s, or wait=false and follow it with run_status.")
    elif r.failure and r.failure.origin == "flow":
        fix = fix_the_flow(r.failure)
        lines.append(f"Next: {fix}" + ("." if fix.startswith("run(") else ", then run again."))
    elif r.failure and r.failure.step:
        lines.append(f"Next: {next_after_step_failure(r.failure)}")
    elif r.status == "running":
        lines.append(f"Progress: {r.progress}")
        if r.output_tail:
            lines.append("Latest output:\n" + r.output_tail)
        lines.append(f"Next: run_status(\"{r.pathspec}\") to follow it; cancel_run(\"{r.pathspec}\") to stop it.")
    elif r.output_tail and not r.failure:
        lines.append("Output:\n" + r.output_tail)
    return "\n".join(lines)

def next_after_step_failure(failure: models.Failure) -> str:
    """A step failed in a run: fix it, check it with spin where spin can tell, then let resume
    re-run the run from that step (it reuses every step before it)."""
    step = failure.step
    if TRANSITION_ERROR in failure.summary:
        return (f"fix {step} so that every path through it ends in its self.next(...) call, then "
                f"resume(flow, step=\"{step}\") (spin does not check self.next; a run does).")
    split = f", split={json.dumps(failure.split_argument)}" if failure.split_argument is not None else ""
    fix = failure.fix_at or step
    return (f"fix {fix}, spin(flow, \"{step}\"{split}) to check the fix, then resume(flow) to re-run the run "
            f"from {step}.")


# Metaflow's words when a step's self.next() did not match the graph (runtime.py, 2.19)
TRANSITION_ERROR = "was expected to transition to step"


MAX_PARAMETERS_SHOWN = 6
PARAMETERS_CHARS = 240


def _parameters_text(parameters: dict[str, object]) -> str:
    shown = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in parameters.items()]
    more = len(shown) - MAX_PARAMETERS_SHOWN
    text = ", ".join(shown[:MAX_PARAMETERS_SHOWN]) + (f", +{more} more" if more > 0 else "")
    return cut_end(text, PARAMETERS_CHARS)


def _render_artifacts(by_step: dict[str, list[models.ArtifactSummary]], which: dict[str, str]) -> str:
    """One line per step, one-line summaries, within a budget: the run's shape at a glance."""
    lines = ["Artifacts set:"]
    for step, items in by_step.items():
        shown = "; ".join(f"{a.name} = {a.summary}" for a in items)
        label = f"{step} ({which[step]})" if step in which else step
        lines.append(f"  {label}: {cut_end(shown, ARTIFACT_LINE_CHARS)}")
    text = "\n".join(lines)
    return cut_end(text, ARTIFACTS_CHARS)

MAX_SPLITS_NAMED = 3


def _step(s: models.StepStatus, stopped: bool = False) -> str:
    mark = {"succeeded": "ok", "failed": "stopped" if stopped else "FAILED", "running": "did not finish"}[s.status]
    many = f" ×{s.tasks}" if s.tasks > 1 else ""
    if s.cloned:
        return f"{s.step}{many} reused"
    took = f" {s.duration_s:.2f}s" if s.duration_s is not None else ""
    which = ""
    if s.failed_splits:
        named = "; ".join(s.failed_splits[:MAX_SPLITS_NAMED])
        more = f"; +{len(s.failed_splits) - MAX_SPLITS_NAMED} more" if len(s.failed_splits) > MAX_SPLITS_NAMED else ""
        which = f" ({s.failed_tasks} of {s.tasks} failed: {named}{more})"
    return f"{s.step}{many} {mark}{took}{which}"

def run_info(r: dict) -> models.RunInfo:
    started = r.get("started_at")
    return models.RunInfo(
        pathspec=r["pathspec"],
        status=r["status"],
        started_at=datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds") if started else None,
        duration_s=r.get("duration_s"),
        failed_step=r.get("failed_step"),
        tags=r.get("tags") or [],
        spin_step=r.get("spin_step"),
        file=r.get("file"),
        ended=r.get("ended"),
    )

def run_line(run: models.RunInfo) -> str:
    parts = [run.pathspec, run.status.replace("_", " ") + (f" ({run.ended})" if run.ended else "")]
    if run.spin_step:
        parts.append(f"spin of {run.spin_step}")
    if run.started_at:
        parts.append(run.started_at.replace("+00:00", "Z"))
    if run.duration_s is not None:
        parts.append(f"{run.duration_s:.1f}s")
    if run.failed_step:
        parts.append(f"failed at {run.failed_step}")
    if run.tags:
        parts.append("tags: " + ", ".join(run.tags))
    return " · ".join(parts)
