"""`completion/complete` for prompt arguments: flow files, their step names, their run ids —
so a client can offer `develop_flow(flow=…)` or `debug_failure(run=…)` from what exists."""

from __future__ import annotations

from typing import Any

from mcp.types import Completion, PromptReference

from ..app import App
from ..errors import FlowmcpError

MAX_VALUES = 100


async def complete(app: App, ref: Any, argument: Any, context: Any) -> Completion | None:
    if not isinstance(ref, PromptReference):
        return None
    typed = (argument.value or "").strip()
    known = dict(getattr(context, "arguments", None) or {})
    if argument.name == "flow":
        values = [app.config.relative(p) for p in await app.flow_files()]
    elif argument.name == "step":
        values = await _steps(app, known.get("flow"))
    elif argument.name == "run":
        values = await _runs(app, known.get("flow"))
    else:
        return None
    matches = [v for v in values if v.startswith(typed)]
    return Completion(values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES)


async def _steps(app: App, flow: str | None) -> list[str]:
    if not flow:
        return []
    try:
        return (await app.describe(flow)).step_names
    except FlowmcpError:
        return []


async def _runs(app: App, flow: str | None) -> list[str]:
    if not flow:
        return []
    try:
        name = (await app.describe(flow)).name
    except FlowmcpError:
        return []
    try:
        return [r["run_id"] for r in (await app.bridge.runs(name, limit=MAX_VALUES))["runs"]]
    except FlowmcpError:
        return []
