"""The `inspect_artifact` tool: type and shape of one artifact, never its full repr."""

from __future__ import annotations

import re
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent
from pydantic import Field

from .. import models
from ..errors import BadArgumentError
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
from ._pathspec import Pathspec

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
    as_image: Annotated[
        bool,
        Field(description="Answer with the picture itself: a matplotlib Figure or Axes, a PIL image, a numpy image "
              "array (H×W, H×W×3/4) or PNG/JPEG bytes (under ~1 MB)"),
    ] = False,
    split: Annotated[
        str | int | None,
        Field(description="For a foreach step: the split to read, by its input value or index; without it a "
                          "step's pathspec answers for every split"),
    ] = None,
) -> Annotated[CallToolResult, models.InspectResult]:
    """Summarize one artifact of a task: its type and shape (a 100,000×13 DataFrame, a 50 MB blob).

    Use it after run or a persisted spin to check what a step produced, without loading the
    value into the conversation. A wrong name answers with close matches and the names that
    exist; `path` is parsed, never evaluated as code. For a plot or image, as_image=true answers
    with the picture."""
    with agent_errors("inspect_artifact"):
        app = app_of(ctx)
        pathspec, is_spin = task_pathspec(app, pathspec)
        if not _NAME.match(name):
            raise BadArgumentError(f"{name!r} is not an artifact name (a Python identifier such as 'model').")
        # The whole answer, label included, stays within the artifact budget.
        label = f"{pathspec}/<task>.{name}{path}: "
        d = await app.bridge.inspect(pathspec, name, path, spin=is_spin, max_chars=ANSWER_CHARS - len(label),
                                     as_image=as_image, split=checked_split(split))
        if d.get("splits") is not None:
            return answer(*_across_splits(d, name, pathspec))
        image = d.get("image")
        result = models.InspectResult(
            pathspec=d["pathspec"], split=split_words.label(d.get("split")) or None, name=name, path=d.get("path"),
            type=d.get("type", "?"), shape=d.get("shape"),
            size_bytes=d.get("size_bytes"), summary=d.get("summary", ""), detail=d.get("detail", ""),
            picture=d.get("picture"), image={k: v for k, v in image.items() if k != "data"} if image else None,
        )
        label = f"{result.pathspec}.{name}{result.path or ''}" + (f" ({result.split})" if result.split else "")
        text = f"{label}: {result.summary}" + (f"\n{result.detail}" if result.detail else "")
        if image:
            text += (f"\nPicture ({image['source']}): {image['mime']}, {image['width']}×{image['height']} px, "
                     f"{len(image['data']) * 3 // 4 / 1024:,.0f} KB")
        elif result.picture:
            text += f"\nA picture ({result.picture}): inspect_artifact(..., as_image=true) shows it."
        await app.housekeep(Pathspec.parse(pathspec).flow)  # the client cache's copies of gone runs go
        links = [resource_link(f"flowmcp://artifact/{result.pathspec}/{name}", f"{name} of {result.pathspec}",
                               "application/json", "The whole value as JSON (a summary when it is not JSON data)")]
        answered = answer(text, result)
        if image:
            answered.content.append(ImageContent(type="image", data=image["data"], mime_type=image["mime"]))
        return linked(answered, ctx, links if result.pathspec.count("/") == 3 else [])


def _across_splits(d: dict, name: str, pathspec: str) -> tuple[str, models.InspectResult]:
    """A foreach step's artifact, a line per split: what each split holds at a glance."""
    rows = [models.SplitValue(split=split_words.label(r["split"]) or r["task"],
                              argument=split_words.argument(r["split"]), task=r["task"], summary=r["summary"])
            for r in d["splits"]]
    result = models.InspectResult(pathspec=pathspec, name=name, path=d.get("path"), type=d.get("type", "?"),
                                  summary=d.get("summary", ""), splits=rows, total_splits=d.get("total_splits"))
    label = f"{pathspec}.{name}{result.path or ''}"
    text = per_split_text(f"{label} in {result.total_splits} splits:", [f"{row.split}: {row.summary}" for row in rows],
                          result.total_splits, rows[0].argument if rows else None,
                          lambda split: f"inspect_artifact(\"{pathspec}\", \"{name}\", split={split}) reads one "
                                        "split in full")
    return text, result
