"""The `run_status` and `cancel_run` tools: follow and stop runs started with run(wait=False)."""

from __future__ import annotations

from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..app import App
from ..bridge.client import Ran
from ..errors import BadArgumentError, FlowmcpError, NotFoundError
from ._common import agent_errors, answer, app_of
from ._pathspec import Pathspec
from ._run_answer import build_result, is_failure, render


async def run_status(
    pathspec: Annotated[str, Field(description="The run's pathspec, Flow/run_id (from run or list_runs)")],
    ctx: Context,
) -> Annotated[CallToolResult, models.RunResult]:
    """Report a run's progress while it runs, then its final status, per-step results and failure
    summary — the same answer run gives.

    Use it after run(flow, wait=false), or on any run from list_runs."""
    with agent_errors("run_status"):
        app = app_of(ctx)
        pathspec = _checked(pathspec)
        job = app.background.get(pathspec)
        if job is not None:
            result = job.status()
        else:
            result = await _recorded(app, pathspec)
        return answer(render(app, result), result, is_error=is_failure(result.status))


async def cancel_run(
    pathspec: Annotated[str, Field(description="The run's pathspec, Flow/run_id, as run(wait=false) returned it")],
    ctx: Context,
) -> Annotated[CallToolResult, models.RunResult]:
    """Stop a run started with run(flow, wait=false): every step process is killed, and the answer
    says what had finished.

    Use it when a run is no longer needed or runs far longer than expected."""
    with agent_errors("cancel_run"):
        app = app_of(ctx)
        pathspec = _checked(pathspec)
        job = app.background.get(pathspec)
        if job is None:
            raise NotFoundError(
                f"{pathspec} was not started by this server with run(wait=false), so it cannot be cancelled "
                "here. list_runs shows its status."
            )
        already = job.result is not None
        await job.stop()
        result = job.status()
        if already:
            result = result.model_copy(update={"notes": [f"{pathspec} had already ended ({result.status}) "
                                                         "before the cancel; nothing was stopped.", *result.notes]})
        # The cancel did what was asked (the run is stopped or was already over): not an error.
        return answer(render(app, result), result)


def _checked(pathspec: str) -> str:
    spec = Pathspec.parse(pathspec, least="run", what="run pathspec")
    if spec.step is not None:
        raise BadArgumentError(f"{pathspec!r} names a step; give the run's pathspec, {spec.run_pathspec}.")
    return spec.run_pathspec


async def _recorded(app: App, pathspec: str) -> models.RunResult:
    """A run this server is not running: read what Metaflow (and flowmcp's ledger) recorded."""
    flow_name = Pathspec.parse(pathspec).flow
    record = await app.bridge.run_detail(pathspec)
    desc = await _flow_of(app, flow_name, record.get("file"))
    finished = Ran(record={"run": record, "exit_code": 0})
    result = build_result(app, desc, finished, {}, record.get("tags") or [], None) if desc else None
    if result is None:
        result = models.RunResult(flow=flow_name, pathspec=pathspec, status=record["status"],
                                  duration_s=record.get("duration_s"), tags=record.get("tags") or [])
    return result


async def _flow_of(app: App, flow_name: str, file: str | None):
    """The description of the file a run came from: the one flowmcp recorded, else the only file
    that defines the flow (None when none or several do)."""
    if file:
        candidates = [file]
    else:
        candidates = [app.config.relative(p) for p in await anyio.to_thread.run_sync(app.catalog.declaring, flow_name)]
    described = []
    for rel in candidates:
        try:
            desc = await app.describe(rel)
        except FlowmcpError:
            continue
        if desc.name == flow_name:
            described.append(desc)
    return described[0] if len(described) == 1 else None

