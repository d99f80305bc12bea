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
from ..summarize.text import cut_end
from ._common import agent_errors, answer, app_of, describe_or_fail
from ._runs import run_info, run_line

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
        status = models.FlowStatus(
            flow=desc.name,
            file=rel,
            parameters=[_parameter(p) for p in desc.parameters],
            configs=[_config(c) for c in desc.configs],
            steps=steps,
            latest_run=latest,
            next_call=("fix what Metaflow says above (the flow's configs, decorators or options), then "
                       f'run(flow="{rel}")') if desc.cli_error else _next_call(rel, steps, latest),
            notes=notes,
        )
        return answer(render(status), status)


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


def _step_states(app: App, desc: FlowDescription) -> list[models.StepState]:
    current = step_versions(desc.file)
    out = []
    for s in desc.steps:
        check = app.state.last_check(desc.key, s["name"])
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
    lines = [*r.notes, f"{r.flow} ({r.file})"]
    if r.parameters:
        lines.append("Parameters: " + ", ".join(f"{p.name} ({p.type})" for p in r.parameters))
    if r.configs:
        lines.append("Configs: " + ", ".join(c.name + (f" (default {c.default})" if c.default is not None else "")
                                             for c in r.configs))
    lines.append("Steps:")
    for s in r.steps:
        arrow = f" → {', '.join(s.next)}" if s.next else ""
        kind = f" [foreach {s.foreach}]" if s.foreach else (f" [{s.type}]" if s.type in ("join", "split") else "")
        by = f" ({s.checked_by})" if s.checked_by else ""
        lines.append(f"  {s.name}{kind}{arrow}: {s.state}{by}")
    lines.append("Latest run: " + (run_line(r.latest_run) if r.latest_run else "none"))
    lines.append(f"Next: {r.next_call}")
    return "\n".join(lines)
