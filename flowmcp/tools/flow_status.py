"""The `flow_status` tool: where the incremental workflow stands for one flow, and what to call next."""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..app import App, FlowDescription
from ..state.steps import empty_steps, source_hash, step_versions
from ..summarize.hints import needed_environment
from ..summarize.text import cut_end
from ._common import agent_errors, answer, app_of, describe_or_fail
from ._run_answer import run_info, run_line

MAX_MESSAGE_CHARS = 400  # of Metaflow's reason a flow does not start


async def flow_status(
    flow: Annotated[str, Field(description="Path of the flow's .py file, relative to the project root")],
    ctx: Context,
) -> Annotated[CallToolResult, models.FlowStatus]:
    """Show a flow's graph, parameters and latest run, and for every step whether its current
    code was verified by a run or spin, is stale (edited since), failing, or never checked —
    with the one call to make next.

    Use it when you start work on a flow, after editing several steps, or when unsure whether
    to spin or run. It reads only; it runs nothing."""
    with agent_errors("flow_status"):
        app = app_of(ctx)
        desc, failed = await describe_or_fail(
            app, flow, lambda name, failure: models.FlowStatus(flow=name, file=flow, next_call=f'run(flow="{flow}")')
        )
        if failed:
            return failed
        rel = desc.rel
        identity, notes = await app.identity(desc)
        latest = await _latest_run(app, desc, identity)
        steps = _step_states(app, desc)
        if desc.cli_error:
            error = desc.cli_error
            notes.append(f"Metaflow does not start this flow as it is: {error.get('headline') or error.get('type')}: "
                         f"{cut_end(' '.join(str(error.get('message') or '').split()), MAX_MESSAGE_CHARS)}")
        refused = app.state.refusal(desc.key)
        if refused and refused.get("source") == source_hash(desc.file) and (
                latest is None or latest.pathspec == refused.get("pathspec")):
            notes.append(f"The last run(flow) was refused before any step: {refused['message']}")
            next_call = ("fix what Metaflow said (the flow file, or the parameters it was given), then "
                         f'run(flow="{rel}") — running it unchanged is refused again')
        elif desc.cli_error:
            next_call = _refused_next(rel, desc.cli_error)
        else:
            next_call = _next_call(rel, steps, latest)
        status = models.FlowStatus(
            flow=desc.name,
            file=rel,
            parameters=[_parameter(p) for p in desc.parameters],
            configs=[_config(c) for c in desc.configs],
            steps=steps,
            latest_run=latest,
            next_call=next_call,
            notes=notes,
        )
        return answer(render(status), status)


def _refused_next(flow: str, error: dict) -> str:
    """Metaflow would not start the flow as it is: the option it wants, or what to fix."""
    kind = needed_environment(str(error.get("message") or ""))
    if kind:
        return f'run(flow="{flow}", environment="{kind}") — its @{kind} steps need Metaflow to build their environment'
    return f'fix what Metaflow says above (the flow\'s configs, decorators or options), then run(flow="{flow}")'


def _parameter(p: dict) -> models.ParameterInfo:
    default = p.get("default")
    if isinstance(default, (list, dict)):
        default = json.dumps(default)
    return models.ParameterInfo(name=p["name"], type=p["type"], default=default, required=bool(p.get("required")),
                                help=p.get("help"))


def _config(c: dict) -> models.ConfigInfo:
    default = c.get("default")
    if isinstance(default, (list, dict)):
        default = json.dumps(default)
    return models.ConfigInfo(name=c["name"], default=default, required=bool(c.get("required")), help=c.get("help"))


async def _latest_run(app: App, desc: FlowDescription, identity: dict | None) -> models.RunInfo | None:
    runs = (await app.bridge.runs(desc.name, limit=1, identity=identity))["runs"]
    return run_info(runs[0]) if runs else None


# An empty step of these types only passes its state on: a placeholder for code to come. An empty
# split, join or end step does its work by being there (it routes the graph), so it is not one.
SKELETON_TYPES = frozenset({"start", "linear"})


def _step_states(app: App, desc: FlowDescription) -> list[models.StepState]:
    current = step_versions(desc.file)
    empty = empty_steps(desc.file)
    out = []
    for s in desc.steps:
        check = app.state.last_check(desc.key, s["name"])
        by = check["by"] if check else None
        if s["name"] in empty and s["type"] in SKELETON_TYPES:
            # Steps are written in graph order: an empty step with written steps after it passes
            # its state on by design; one with only empty steps after it is still to write
            later = desc.steps[desc.steps.index(s) + 1:]
            written_later = any(t["name"] not in empty and t["type"] != "end" for t in later)
            state = "empty" if written_later else "skeleton"
        elif check is None:
            state = "unverified"
        elif check["version"] != current.get(s["name"]):
            state = "stale"
        else:
            state = "verified" if check["ok"] else "failing"
        out.append(models.StepState(name=s["name"], type=s["type"], next=s["next"], foreach=s.get("foreach"),
                                    line=s.get("line"), state=state, checked_by=by,
                                    failed_how=(check or {}).get("why") if state == "failing" else None))
    return out


def _next_call(flow: str, steps: list[models.StepState], latest: models.RunInfo | None) -> str:
    """The workflow's next move, in graph order: the first step that is not yet recorded by a run
    at its current code decides (skeleton → write it; failing → fix it; stale or never checked →
    spin it; passed spin only → record it with resume from there, which reuses the steps before)."""
    if latest is None:
        first = steps[0] if steps else None
        if first is not None and first.state == "skeleton":
            return (f'write {first.name}\'s code (load the data), then run(flow="{flow}") — no run yet, and spin '
                    "needs one to take its inputs from")
        return f'run(flow="{flow}") — no run yet, and spin needs one to take its inputs from'
    for position, step in enumerate(steps):
        if step.state == "empty" or (step.state == "verified" and (step.checked_by or "").startswith("run")):
            continue
        if step.state == "skeleton":
            return (f'write {step.name}\'s code (it only calls self.next), then spin(flow="{flow}", '
                    f'step="{step.name}") to try it on the last run\'s state')
        if step.state == "failing" and step.failed_how == "transition":
            return (f'fix {step.name} so that every path through it ends in its self.next(...), then '
                    f'resume(flow="{flow}", step="{step.name}") — spin does not check self.next; a run does')
        if step.state == "failing":
            return f'spin(flow="{flow}", step="{step.name}") — its last check failed: fix it, then spin it'
        if step.state == "stale":
            return f'spin(flow="{flow}", step="{step.name}") — it changed since {step.checked_by} checked it'
        if step.state == "unverified":
            return f'spin(flow="{flow}", step="{step.name}") — its current code was never checked: spin it'
        # verified by a spin only: no run has recorded its outputs for the steps after it
        unrecorded = [s.name for s in steps[position:] if s.state == "verified" and not
                      (s.checked_by or "").startswith("run")]
        whose = "its" if len(unrecorded) == 1 else "their"
        return (_record_from(flow, step.name, position, steps, latest)
                + f" — {', '.join(unrecorded)} passed spin but no run has recorded {whose} outputs")
    return "nothing to do: every step's current code passed a run"


def _record_from(flow: str, step: str, position: int, steps: list[models.StepState], latest: models.RunInfo) -> str:
    """resume from `step` when the latest run can be its origin (every step before it done there:
    Metaflow reuses them), else a whole run."""
    if position == 0:
        return f'run(flow="{flow}")'
    run_id = latest.pathspec.split("/")[-1]
    if latest.status == "succeeded":
        return f'resume(flow="{flow}", run="{run_id}", step="{step}")'
    order = [s.name for s in steps]
    if latest.status == "failed" and latest.failed_step in order and order.index(latest.failed_step) >= position:
        return f'resume(flow="{flow}", run="{run_id}", step="{step}")'
    return f'run(flow="{flow}")'


def _default_text(value: object) -> str:
    """A default as an agent would write it: an empty or blank text quoted, so it reads as one."""
    if isinstance(value, str) and not value.strip():
        return json.dumps(value)
    return str(value)


def _state_text(s: models.StepState) -> str:
    by = s.checked_by
    if s.state == "skeleton":
        return "skeleton (only self.next: its code is still to write)"
    if s.state == "empty":
        return "empty (only self.next: it passes its inputs on)"
    if s.state == "verified":
        return f"verified by {by}" + ("" if by and by.startswith("run") else " (no run has recorded it yet)")
    if s.state == "stale":
        return f"stale (edited since {by} checked it)"
    if s.state == "failing":
        return f"failing ({by})"
    return "unverified (never run or spun at this code)"


def render(r: models.FlowStatus) -> str:
    lines = [*r.notes, f"{r.flow} ({r.file})"]
    if r.parameters:
        lines.append("Parameters: " + ", ".join(f"{p.name} ({p.type})" for p in r.parameters))
    if r.configs:
        lines.append("Configs: " + ", ".join(c.name + (f" (default {_default_text(c.default)})"
                                                       if c.default is not None else "") for c in r.configs))
    lines.append("Steps:")
    for s in r.steps:
        arrow = f" → {', '.join(s.next)}" if s.next else ""
        kind = f" [foreach {s.foreach}]" if s.foreach else (f" [{s.type}]" if s.type in ("join", "split") else "")
        lines.append(f"  {s.name}{kind}{arrow}: {_state_text(s)}")
    lines.append("Latest run: " + (run_line(r.latest_run) if r.latest_run else "none"))
    lines.append(f"Next: {r.next_call}")
    return "\n".join(lines)
