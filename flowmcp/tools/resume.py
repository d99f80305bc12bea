"""The `resume` tool: re-run a failed run from its failed step, reusing what already succeeded."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..errors import NotFoundError
from ._common import agent_errors, answer, app_of, describe_or_fail, normalise_id
from ._pathspec import Pathspec
from ._run_answer import did_not_load, is_failure, render
from ._runs import EnvironmentOption, RunJob, WithOption, check_tags, scale_out


async def resume(
    flow: Annotated[str, Field(description="Path of the flow's .py file, relative to the project root")],
    ctx: Context,
    run: Annotated[
        str | int | None, Field(description="Run id or Flow/run_id to resume; default: the latest failed run")
    ] = None,
    step: Annotated[
        str | None, Field(description="Step to restart from; default: the step that failed")
    ] = None,
    tags: Annotated[list[str], Field(description="Tags to add to the new run")] = [],
    timeout_s: Annotated[float | None, Field(description="Stop the run after this many seconds", gt=0)] = None,
    with_: WithOption = [],
    environment: EnvironmentOption = None,
) -> Annotated[CallToolResult, models.RunResult]:
    """Resume a failed run: a new run that reuses the steps that succeeded and runs again from the
    failed step (or `step`), with the original run named explicitly, never guessed.

    Use it after fixing a step late in a long flow, instead of a full run; spin the fixed step
    first to check it. Answers like run."""
    with agent_errors("resume"):
        app = app_of(ctx)
        desc, failed = await describe_or_fail(app, flow, did_not_load)
        if failed:
            return failed
        app.check_runnable(desc)
        check_tags(tags)
        identity, notes = await app.identity(desc)
        origin = await _origin_run(app, desc.name, normalise_id(run), identity)
        if step is not None:
            desc.step(step)  # NotFoundError with the closest names, as in spin
        options = scale_out(with_, environment)
        options["resume"] = {"origin_run_id": origin, "step": step}
        job = RunJob(app, desc, {}, tags, timeout_s, ctx, options, what="resume")
        result = await job.execute()
        # Metaflow's record says where the run restarted (the first step it did not reuse); a run
        # that stopped before any step did not resume anything
        if result.resumed_from is None and result.steps:
            result.resumed_from = f"{desc.name}/{origin}" + (f" at {step}" if step else "")
        result.notes = notes + result.notes
        return answer(render(app, result), result, is_error=is_failure(result.status))


async def _origin_run(app, flow_name: str, run: str | None, identity: dict | None) -> str:
    if run is not None:
        origin = Pathspec.of_run(run, flow_name)
        await app.bridge.run_detail(str(origin))  # NotFoundError naming list_runs when there is no such run
        return origin.run
    runs = (await app.bridge.runs(flow_name, status="failed", limit=1, identity=identity))["runs"]
    if not runs:
        raise NotFoundError(f"{flow_name} has no failed run to resume; pass run=<run id> to resume another one.")
    return runs[0]["run_id"]
