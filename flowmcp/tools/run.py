"""The `run` tool: a full, recorded run of a flow."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from . import _parameters as params
from ._common import agent_errors, answer, app_of, describe_or_fail
from ._run_answer import did_not_load, is_failure, render
from ._runs import EnvironmentOption, RunJob, WithOption, check_tags, scale_out


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
    wait: Annotated[
        bool, Field(description="false: return the pathspec as soon as the run starts; follow it with run_status")
    ] = True,
    with_: WithOption = [],
    environment: EnvironmentOption = None,
) -> Annotated[CallToolResult, models.RunResult]:
    """Run the whole flow locally and wait for the outcome; the run is recorded and versioned.

    Use it first, before any spin: spin needs a run whose artifacts it can reuse. Run again after
    a step works under spin, to record its outputs for the next step, and once more at the end.
    Answers with the run's pathspec (Flow/run_id), its true status, each step's status and
    duration and, on failure, the failing line of your code with a short diagnosis. For a long
    run pass wait=false, then poll run_status(pathspec); cancel_run(pathspec) stops it."""
    with agent_errors("run"):
        app = app_of(ctx)
        desc, failed = await describe_or_fail(app, flow, did_not_load)
        if failed:
            return failed
        app.check_runnable(desc)
        cli_parameters = params.to_cli(desc.parameters, parameters or {})
        check_tags(tags)
        _identity, notes = await app.identity(desc)
        job = RunJob(app, desc, dict(cli_parameters), tags, timeout_s, ctx if wait else None,
                     scale_out(with_, environment))
        if wait:
            result = await job.execute()
        else:
            result = await job.start_in_background()
        result.notes = notes + result.notes
        return answer(render(app, result), result, is_error=is_failure(result.status))


