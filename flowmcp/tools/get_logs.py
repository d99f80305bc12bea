"""The `get_logs` tool: a task's output, cleaned and bounded."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..summarize import splits as split_words
from ._common import (
    agent_errors,
    answer,
    app_of,
    checked_split,
    linked,
    per_split_text,
    resource_link,
    task_pathspec,
)

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
    split: Annotated[
        str | int | None,
        Field(description="For a foreach step: the split whose log to read, by its input value or index; without "
                          "it a step's pathspec answers with a line per split"),
    ] = None,
) -> Annotated[CallToolResult, models.LogsResult]:
    """Read a task's stdout or stderr, cleaned: Metaflow's prefixes, colours and progress-bar
    redraws removed, repeated lines folded, at most 200 lines.

    Use it when a run or spin answer's output tail is not enough: to follow what a step printed,
    or to grep a long training log with `pattern`."""
    with agent_errors("get_logs"):
        app = app_of(ctx)
        pathspec, is_spin = task_pathspec(app, pathspec)
        record = await app.bridge.logs(pathspec, stream, spin=is_spin, head=head, tail=tail, pattern=pattern,
                                       split=checked_split(split))
        if record.get("splits") is not None:
            return answer(*_per_split(record, stream))
        result = models.LogsResult(**{k: record[k] for k in models.LogsResult.model_fields if k in record
                                      and k != "split"}, split=split_words.label(record.get("split")) or None)
        if pattern:
            what = f"{result.matched:,} of {result.total_lines:,} lines match"
        else:
            what = f"{result.total_lines:,} lines"
        whose = result.pathspec + (f" ({result.split})" if result.split else "")
        if result.text:
            text = f"{whose} {stream} ({what}):\n{result.text}"
        else:
            text = f"{whose} {stream}: empty" + (" for this pattern" if pattern else "")
        links = [resource_link(f"flowmcp://logs/{result.pathspec}/{stream}", f"{stream} of {result.pathspec}",
                               "text/plain", f"The task's whole {stream}, cleaned ({result.total_lines:,} lines)")]
        return linked(answer(text, result), ctx, links if result.pathspec.count("/") == 3 else [])


def _per_split(record: dict, stream: str) -> tuple[str, models.LogsResult]:
    rows = [models.SplitLogs(split=split_words.label(r["split"]) or r["task"],
                             argument=split_words.argument(r["split"]), task=r["task"], lines=r["lines"],
                             last=r["last"]) for r in record["splits"]]
    result = models.LogsResult(pathspec=record["pathspec"], stream=stream, total_lines=record["total_lines"],
                               matched=0, text="", splits=rows, total_splits=record["total_splits"])
    text = per_split_text(f"{result.pathspec} {stream}, a line per split ({result.total_splits} splits):",
                          [f"{row.split}: {row.lines:,} lines" + (f", ends: {row.last}" if row.last else "")
                           for row in rows], result.total_splits, rows[0].argument if rows else None,
                          lambda split: f"get_logs(\"{result.pathspec}\", split={split}) reads one split's {stream}")
    return text, result
