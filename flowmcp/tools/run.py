"""The `run` tool: a full, recorded run of a flow."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from .. import parameters as params
from ..app import App, FlowDescription
from ..bridge import JobOutcome
from ..errors import BadArgumentError, BridgeError
from ..state import step_versions
from ..summarize import logs
from ._common import agent_errors, answer, app_of, artifact_summaries, describe_or_fail

OUTPUT_TAIL_LINES = 12
ARTIFACT_LINE_CHARS = 200  # per step in the run answer; inspect_artifact has the rest
ARTIFACTS_CHARS = 1200
MAX_TAGS = 20


async def run(
    flow: Annotated[str, Field(description="Path of the flow's .py file, relative to the project root")],
    ctx: Context,
    parameters: Annotated[
        dict[str, Any],
        Field(description="Flow Parameters by name, e.g. {\"alpha\": 0.5}; converted to the declared types"),
    ] = {},
    tags: Annotated[list[str], Field(description="Tags to add to the run")] = [],
    timeout_s: Annotated[
        float | None, Field(description="Stop the run (and every step process) after this many seconds", gt=0)
    ] = None,
) -> Annotated[CallToolResult, models.RunResult]:
    """Run the whole flow locally and wait for the outcome; the run is recorded and versioned.

    Use it first, before any spin: spin needs a run whose artifacts it can reuse. Run again after
    a step works under spin, to record its outputs for the next step, and once more at the end.
    Answers with the run's pathspec (Flow/run_id), its true status, each step's status and
    duration and, on failure, the failing line of your code with a short diagnosis."""
    with agent_errors("run"):
        app = app_of(ctx)
        desc, failed = await describe_or_fail(
            app, flow, lambda name, failure: models.RunResult(flow=name, status="failed", failure=failure)
        )
        if failed:
            return failed
        cli_parameters = params.to_cli(desc.parameters, parameters or {})
        _check_tags(tags)
        versions = step_versions(desc.file)  # before the run: the code it actually runs
        outcome = await app.bridge.call(
            "run",
            {
                "flow_file": str(desc.file),
                "flow_name": desc.name,
                "cli_parameters": cli_parameters,
                "tags": tags,
            },
            timeout=timeout_s,
            with_artifacts=True,
        )
        result = build_result(app, desc, outcome, dict(cli_parameters), tags, timeout_s)
        if result.pathspec:
            app.state.record_run(desc.name, result.pathspec.split("/")[1], versions,
                                 {s.step: s.status for s in result.steps})
        return answer(render(app, result), result, is_error=result.status != "succeeded")


def _check_tags(tags: list[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise BadArgumentError(f"At most {MAX_TAGS} tags per run; got {len(tags)}.")
    for tag in tags:
        if not tag.strip() or "\x00" in tag or len(tag) > 500:
            raise BadArgumentError(f"Tag {tag[:40]!r} is empty, too long (500 chars max) or has NUL characters.")


def build_result(app: App, desc: FlowDescription, outcome: JobOutcome, cli_parameters: dict[str, str],
                 tags: list[str], timeout_s: float | None) -> models.RunResult:
    if not outcome.ok and not outcome.timed_out:
        raise BridgeError(f"Could not run {desc.name}: {outcome.error.get('message')}")
    data = outcome.data
    record = data.get("run") or {}
    tail = logs.tail_text(outcome.output, max_lines=OUTPUT_TAIL_LINES)
    steps = [
        models.StepStatus(step=s["step"], status=s["status"], tasks=s["tasks"],
                          failed_tasks=s["failed_tasks"], duration_s=s["duration_s"])
        for s in record.get("steps", [])
    ]
    status = record.get("status") or "failed"
    failure = None
    if outcome.timed_out:
        status = "failed"
        failure = models.Failure(
            exception_type="Timeout",
            message=f"the run was stopped after {timeout_s:g} s (timeout_s); every step process was killed",
            summary=f"Timeout: stopped after {timeout_s:g} s; last output:\n{tail}",
        )
    elif status == "failed" or data.get("exit_code"):
        status = "failed"
        info = record.get("failure") or {}
        stored = info.get("stored_exception") or {}
        failure = app.failure(
            step=info.get("step") or record.get("failed_step"),
            task=info.get("task"),
            captures=outcome.captures,
            cli_error=data.get("cli_error"),
            stderr=info.get("stderr") or stored.get("stacktrace") or "",
            output=outcome.output,
            flow=desc,
        )
    return models.RunResult(
        artifacts=_artifacts_by_step(outcome.captures, [s.step for s in steps]),
        flow=desc.name,
        pathspec=record.get("pathspec"),
        status=status,
        duration_s=record.get("duration_s") or data.get("elapsed_s"),
        parameters=cli_parameters,
        tags=tags,
        steps=steps,
        failure=failure,
        output_tail=tail,
    )


def _artifacts_by_step(captures: list[dict], order: list[str]) -> dict[str, list[models.ArtifactSummary]]:
    """What each step set, from its first task (a foreach's split 0 speaks for the others)."""
    first: dict[str, dict] = {}
    for record in sorted(captures, key=lambda c: c.get("task_id") or 0):
        if record.get("artifacts") and record.get("step") not in first:
            first[record["step"]] = record["artifacts"]
    return {step: artifact_summaries(first[step]) for step in order if step in first}


def render(app: App, r: models.RunResult) -> str:
    """A failure leads with its headline (file:line in func — Type: message); a success with the run."""
    took = f" in {r.duration_s:.1f} s" if r.duration_s else ""
    params = ", ".join(f"{k}={v}" for k, v in r.parameters.items())
    head = f"{r.pathspec or r.flow} {r.status}{took}" + (f" ({params})" if params else "")
    lines = []
    if r.failure:
        lines.append(r.failure.summary)
        if r.failure.step:
            head += f" at step {r.failure.step}" + (f" (task {r.failure.task})" if r.failure.task else "")
        elif not r.pathspec:
            head += " before any step started"
    lines.append(head)
    if r.steps:
        lines.append("Steps: " + ", ".join(_step(s) for s in r.steps))
    if r.artifacts:
        lines.append(_render_artifacts(r.artifacts))
    if r.status == "succeeded":
        lines.append(
            f"Next: spin(flow, step) to iterate on one step with this run's state; "
            f"inspect_artifact(\"{r.pathspec}/<step>\", name) to read a value."
        )
    elif r.failure and r.failure.step:
        lines.append(f"Next: fix the step, then spin(flow, \"{r.failure.step}\") to check it before running again.")
    elif r.output_tail and not r.failure:
        lines.append("Output:\n" + r.output_tail)
    return "\n".join(lines)


def _render_artifacts(by_step: dict[str, list[models.ArtifactSummary]]) -> str:
    """One line per step, one-line summaries, within a budget: the run's shape at a glance."""
    lines = ["Artifacts set:"]
    for step, items in by_step.items():
        shown = "; ".join(f"{a.name} = {a.summary}" for a in items)
        lines.append(f"  {step}: {_cut(shown, ARTIFACT_LINE_CHARS)}")
    text = "\n".join(lines)
    return _cut(text, ARTIFACTS_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step(s: models.StepStatus) -> str:
    mark = {"succeeded": "ok", "failed": "FAILED", "running": "did not finish"}[s.status]
    many = f" ×{s.tasks}" if s.tasks > 1 else ""
    took = f" {s.duration_s:.2f}s" if s.duration_s is not None else ""
    return f"{s.step}{many} {mark}{took}"
