"""The `inspect_artifact` tool: type and shape of one artifact, never its full repr."""

from __future__ import annotations

import re
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..errors import BadArgumentError
from ..pathspec import Pathspec
from ._common import agent_errors, answer, app_of, linked, resource_link, task_pathspec

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ANSWER_CHARS = 1500


async def inspect_artifact(
    pathspec: Annotated[str, Field(description="Flow/run/step or Flow/run/step/task, of a run or a persisted spin")],
    name: Annotated[str, Field(description="Artifact name, e.g. 'model'")],
    ctx: Context,
    # A plain `str` (not `str | None`): the SDK would otherwise JSON-decode a path like "[0]" into a list.
    path: Annotated[
        str,
        Field(description="Drill into the value: ['key'], [0], .attr — e.g. '[\"weights\"][0]' or '.coef_'; "
              "empty for the whole value"),
    ] = "",
) -> Annotated[CallToolResult, models.InspectResult]:
    """Summarize one artifact of a task: its type and shape (a 100,000×13 DataFrame, a 50 MB blob).

    Use it after run or a persisted spin to check what a step produced, without loading the
    value into the conversation. A wrong name answers with close matches and the names that
    exist; `path` is parsed, never evaluated as code."""
    with agent_errors("inspect_artifact"):
        app = app_of(ctx)
        pathspec, is_spin = task_pathspec(app, pathspec)
        if not _NAME.match(name):
            raise BadArgumentError(f"{name!r} is not an artifact name (a Python identifier such as 'model').")
        # The whole answer, label included, stays within the artifact budget.
        label = f"{pathspec}/<task>.{name}{path}: "
        d = await app.bridge.inspect(pathspec, name, path, spin=is_spin, max_chars=ANSWER_CHARS - len(label))
        result = models.InspectResult(
            pathspec=d["pathspec"], name=name, path=d.get("path"), type=d.get("type", "?"), shape=d.get("shape"),
            size_bytes=d.get("size_bytes"), summary=d.get("summary", ""), detail=d.get("detail", ""),
        )
        label = f"{result.pathspec}.{name}{result.path or ''}"
        text = f"{label}: {result.summary}" + (f"\n{result.detail}" if result.detail else "")
        await app.housekeep(Pathspec.parse(pathspec).flow)  # the client cache's copies of gone runs go
        links = [resource_link(f"flowmcp://artifact/{result.pathspec}/{name}", f"{name} of {result.pathspec}",
                               "application/json", "The whole value as JSON (a summary when it is not JSON data)")]
        return linked(answer(text, result), ctx, links if result.pathspec.count("/") == 3 else [])
