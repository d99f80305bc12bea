"""The `get_logs` tool: a task's output, cleaned and bounded."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ._common import agent_errors, answer, app_of, linked, resource_link, task_pathspec

MAX_PATTERN_CHARS = 200


async def get_logs(
    pathspec: Annotated[str, Field(description="Flow/run/step[/task] of a run or spin")],
    ctx: Context,
    stream: Annotated[Literal["stdout", "stderr"], Field(description="Which log")] = "stdout",
    tail: Annotated[int | None, Field(description="Last N lines (default 50)", ge=1, le=200)] = None,
    head: Annotated[int | None, Field(description="First N lines", ge=1, le=200)] = None,
    pattern: Annotated[
        str | None, Field(description="Only lines matching this regular expression (or substring)",
                          max_length=MAX_PATTERN_CHARS)
    ] = None,
) -> Annotated[CallToolResult, models.LogsResult]:
    """Read a task's stdout or stderr, cleaned: Metaflow's prefixes, colours and progress-bar
    redraws removed, repeated lines folded, at most 200 lines.

    Use it when a run or spin answer's output tail is not enough: to follow what a step printed,
    or to grep a long training log with `pattern`."""
    with agent_errors("get_logs"):
        app = app_of(ctx)
        pathspec, is_spin = task_pathspec(app, pathspec)
        record = await app.bridge.logs(pathspec, stream, spin=is_spin, head=head, tail=tail, pattern=pattern)
        result = models.LogsResult(**{k: record[k] for k in models.LogsResult.model_fields})
        if pattern:
            what = f"{result.matched:,} of {result.total_lines:,} lines match"
        else:
            what = f"{result.total_lines:,} lines"
        if result.text:
            text = f"{result.pathspec} {stream} ({what}):\n{result.text}"
        else:
            text = f"{result.pathspec} {stream}: empty" + (" for this pattern" if pattern else "")
        links = [resource_link(f"flowmcp://logs/{result.pathspec}/{stream}", f"{stream} of {result.pathspec}",
                               "text/plain", f"The task's whole {stream}, cleaned ({result.total_lines:,} lines)")]
        return linked(answer(text, result), ctx, links if result.pathspec.count("/") == 3 else [])
