"""The `list_runs` tool: a flow's runs newest first, with their true status; or the root's flows."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..app import App
from ..errors import BadArgumentError, FlowFileError, FlowmcpError
from ..summarize.text import cut_end
from ._common import agent_errors, answer, app_of
from ._run_answer import run_info, run_line

MAX_HEADLINE_CHARS = 300  # of why a flow file does not load
_FLOW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CURSOR = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


async def list_runs(
    ctx: Context,
    flow: Annotated[
        str | None, Field(description="Flow file (or flow class name); omit to list the flows in the project")
    ] = None,
    status: Annotated[
        Literal["any", "succeeded", "failed", "running", "cancelled", "timed_out"],
        Field(description="Only runs with this status"),
    ] = "any",
    limit: Annotated[int, Field(description="Runs per page", ge=1, le=100)] = 10,
    cursor: Annotated[str | None, Field(description="next_cursor from the previous page")] = None,
    include_spins: Annotated[bool, Field(description="Also list spins of the flow")] = False,
) -> Annotated[CallToolResult, models.ListRunsResult]:
    """List a flow's runs, newest first: pathspec, true status (a failed local run is 'failed',
    not 'running'), start time, duration, failed step, tags — with a cursor for older pages.

    Use it to find the run to spin from, or the failed step to debug. Without `flow`, lists the
    flows in the project with their latest run."""
    with agent_errors("list_runs"):
        app = app_of(ctx)
        if flow is None:
            result = await _flows(app)
            return answer(_render_flows(app, result), result)
        if cursor is not None and not _CURSOR.match(cursor):
            raise BadArgumentError("cursor must be the next_cursor value of a previous list_runs answer.")
        flow_name, identity, notes = await _flow_name(app, flow)
        d = await app.bridge.runs(flow_name, status=status, limit=limit, cursor=cursor,
                                  include_spins=include_spins, identity=identity)
        if d.get("unattributed"):
            notes.append(f"{d['unattributed']} run(s) of {flow_name} on this page's range were started outside "
                         "flowmcp and could not be matched to a file; list_runs(flow=\"" + flow_name
                         + "\") lists every run of the class.")
        result = models.ListRunsResult(
            flow=flow_name,
            runs=[run_info(r) for r in d["runs"]],
            next_cursor=d.get("next_cursor"),
            total_runs=d.get("total_runs"),
            notes=notes,
        )
        return answer(_render_runs(result, status), result)


async def _flow_name(app: App, flow: str) -> tuple[str, dict | None, list[str]]:
    """A flow file is described (its class name is the flow name, and its runs are those of that
    file); a bare class name is taken as is, with every run of the class."""
    if _FLOW_NAME.match(flow) and not flow.endswith(".py"):
        if app.bridge.has_runs(flow):
            files = await anyio.to_thread.run_sync(app.catalog.declaring, flow)
            notes = []
            if len(files) > 1:
                listed = ", ".join(app.config.relative(f) for f in files)
                notes.append(f"{flow} is defined in {len(files)} files ({listed}); these are the runs of all "
                             "of them: pass a file to see one file's runs.")
            return flow, None, notes
        try:
            app.flow_path(flow)
        except FlowmcpError:
            raise BadArgumentError(
                f"No flow file {flow!r} and no runs of a flow named {flow!r} in {app.config.root}. "
                "Pass the flow's .py path, or call list_runs() to see the flows here."
            ) from None
    desc = await app.describe(flow)
    identity, notes = await app.identity(desc)
    return desc.name, identity, notes


async def _flows(app: App) -> models.ListRunsResult:
    files = await app.flow_files()
    entries = []
    described = []
    for path in files:
        rel = app.config.relative(path)
        try:
            desc = await app.describe(rel)
        except FlowFileError as ex:
            headline = ex.failure.summary.splitlines()[0] if ex.failure else str(ex).splitlines()[0]
            entries.append(models.FlowInfo(file=rel, error=cut_end(headline, MAX_HEADLINE_CHARS)))
            continue
        if (desc.cli_error or {}).get("type") == "NotStarted":
            entries.append(models.FlowInfo(file=rel, flow=desc.name, error=desc.cli_error["message"]))
            continue
        identity, _ = await app.identity(desc)
        described.append({"file": rel, "flow_name": desc.name, "identity": identity})
    if described:
        for f in (await app.bridge.flows(described))["flows"]:
            latest = f.get("latest_run")
            entries.append(models.FlowInfo(file=f["file"], flow=f["flow_name"], runs=f.get("runs", 0),
                                           latest_run=run_info(latest) if latest else None))
    entries.sort(key=lambda e: e.file)
    return models.ListRunsResult(flows=entries)


def _render_runs(r: models.ListRunsResult, status: str) -> str:
    if not r.runs:
        which = "" if status == "any" else f" {status.replace('_', ' ')}"
        text = f"No{which} runs of {r.flow}" + (" on this page." if r.next_cursor else ". Call run(flow) to make one.")
        return "\n".join([*r.notes, text])
    of = f" of {r.total_runs}" if r.total_runs is not None else ""
    lines = [*r.notes, f"{r.flow}: {len(r.runs)} run(s) shown{of} (newest first)"]
    for run in r.runs:
        lines.append("  " + run_line(run))
    if r.next_cursor:
        lines.append(f"More: list_runs(flow, cursor=\"{r.next_cursor}\")")
    return "\n".join(lines)


def _render_flows(app: App, r: models.ListRunsResult) -> str:
    if not r.flows:
        return f"No Metaflow flow files under {app.config.root}."
    lines = [f"Flows in {app.config.root}:"]
    for f in r.flows:
        if f.error:
            lines.append(f"  {f.file}: cannot be loaded — {f.error}")
        elif f.latest_run:
            lines.append(f"  {f.file} ({f.flow}): {f.runs} run(s); latest {run_line(f.latest_run)}")
        else:
            lines.append(f"  {f.file} ({f.flow}): no runs yet")
    return "\n".join(lines)
