"""The `flow_status` tool: where the incremental workflow stands for one flow, and what to call next."""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..app import App, FlowDescription
from ..state import step_versions
from ._common import agent_errors, answer, app_of, describe_or_fail
from .list_runs import run_info, run_line


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
        rel = app.config.relative(desc.file)
        latest = await _latest_run(app, desc)
        steps = _step_states(app, desc)
        status = models.FlowStatus(
            flow=desc.name,
            file=rel,
            parameters=[_parameter(p) for p in desc.parameters],
            steps=steps,
            latest_run=latest,
            next_call=_next_call(rel, steps, latest),
        )
        return answer(render(status), status)


def _parameter(p: dict) -> models.ParameterInfo:
    default = p.get("default")
    if isinstance(default, (list, dict)):
        default = json.dumps(default)
    return models.ParameterInfo(name=p["name"], type=p["type"], default=default, required=bool(p.get("required")),
                                help=p.get("help"))


async def _latest_run(app: App, desc: FlowDescription) -> models.RunInfo | None:
    outcome = await app.bridge.call("runs", {"flow_name": desc.name, "limit": 1}, timeout=120)
    runs = outcome.data.get("runs") if outcome.ok else None
    return run_info(runs[0]) if runs else None


def _step_states(app: App, desc: FlowDescription) -> list[models.StepState]:
    current = step_versions(desc.file)
    out = []
    for s in desc.steps:
        check = app.state.last_check(desc.name, s["name"])
        if check is None:
            state, by = "unverified", None
        elif check["version"] != current.get(s["name"]):
            state, by = "stale", check["by"]
        else:
            state, by = ("verified" if check["ok"] else "failing"), check["by"]
        out.append(models.StepState(name=s["name"], type=s["type"], next=s["next"], foreach=s.get("foreach"),
                                    line=s.get("line"), state=state, checked_by=by))
    return out


def _next_call(flow: str, steps: list[models.StepState], latest: models.RunInfo | None) -> str:
    """The workflow's next move: run first; fix what fails; spin what changed; run to record."""
    if latest is None:
        return f'run(flow="{flow}") — no run yet, and spin needs one to take its inputs from'
    for wanted in ("failing", "stale", "unverified"):
        step = next((s for s in steps if s.state == wanted), None)
        if step is not None:
            why = {"failing": "its last check failed: fix it, then", "stale": "it changed since it was checked:",
                   "unverified": "its current code was never checked:"}[wanted]
            return f'spin(flow="{flow}", step="{step.name}") — {why} spin it'
    unrecorded = [s.name for s in steps if s.checked_by and s.checked_by.startswith("spin")]
    if unrecorded:
        return f'run(flow="{flow}") — {", ".join(unrecorded)} passed spin but no run has recorded their outputs'
    return "nothing to do: every step's current code passed a run"


def render(r: models.FlowStatus) -> str:
    lines = [f"{r.flow} ({r.file})"]
    if r.parameters:
        lines.append("Parameters: " + ", ".join(f"{p.name} ({p.type})" for p in r.parameters))
    lines.append("Steps:")
    for s in r.steps:
        arrow = f" → {', '.join(s.next)}" if s.next else ""
        kind = f" [foreach {s.foreach}]" if s.foreach else (f" [{s.type}]" if s.type in ("join", "split") else "")
        by = f" ({s.checked_by})" if s.checked_by else ""
        lines.append(f"  {s.name}{kind}{arrow}: {s.state}{by}")
    lines.append("Latest run: " + (run_line(r.latest_run) if r.latest_run else "none"))
    lines.append(f"Next: {r.next_call}")
    return "\n".join(lines)
