"""What every tool shares: reaching the App, turning our errors into agent-readable ones."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink, TextContent
from mcp_types.version import is_version_at_least
from pydantic import BaseModel

from ..app import App
from ..errors import BadArgumentError, FlowFileError, FlowmcpError
from ..models import ArtifactSummary, Failure
from ..redaction import redact, redact_data
from ..summarize.text import cut_middle
from ._pathspec import Pathspec

log = logging.getLogger("flowmcp")


def app_of(ctx: Context) -> App:
    return ctx.request_context.lifespan_context


@contextmanager
def agent_errors(tool: str) -> Iterator[None]:
    """Every failure reaches the agent as a message that says what to do next.

    Our own errors carry that message; anything else is a flowmcp bug, still reported with its
    type and text (never a bare "Error executing tool"), and the server keeps serving."""
    try:
        yield
    except ToolError:
        raise
    except FlowmcpError as ex:
        raise ToolError(_bounded(redact(str(ex)))) from ex
    except Exception as ex:
        log.exception("tool %s failed", tool)
        raise ToolError(_bounded(redact(
            f"flowmcp hit an unexpected error in {tool}: {type(ex).__name__}: {ex}. "
            "The server is still running; retry, or report this with the flow that caused it."
        ))) from ex


MAX_ERROR_CHARS = 2_000  # an error echoing a 100 KB argument back is noise; its start and end say what


def _bounded(message: str) -> str:
    return cut_middle(message, MAX_ERROR_CHARS)


async def describe_or_fail(app: App, flow: str, failed: Callable[[str, Failure], BaseModel]):
    """The flow's description, or — when the file does not load — an is_error answer led by the
    error's own headline (file:line — SyntaxError …), like any other failure."""
    try:
        return await app.describe(flow), None
    except FlowFileError as ex:
        if ex.failure is None:
            raise
        model = failed(Path(flow).stem, ex.failure)
        text = f"{ex.failure.summary}\nThe flow file did not load; fix it, then call this tool again."
        return None, answer(text, model, is_error=True)


def artifact_summaries(captured: dict | None) -> list[ArtifactSummary]:
    """The capture hook's summaries of what a step set, as models."""
    return [
        ArtifactSummary(name=name, type=a.get("type", "?"), shape=a.get("shape"), size_bytes=a.get("size_bytes"),
                        summary=a.get("summary", ""), detail=a.get("detail", ""), change=a.get("change"))
        for name, a in (captured or {}).items()
    ]


def answer(text: str, model: BaseModel, *, is_error: bool = False) -> CallToolResult:
    """A compact text for the agent plus the full typed data as structuredContent."""
    structured = redact_data(model.model_dump(mode="json"))  # before serialising: no escape hides one
    return CallToolResult(
        content=[TextContent(type="text", text=redact(text))],
        structured_content=structured,
        is_error=is_error,
    )


# The protocol revision that added `resource_link` content: an older client gets the text alone.
RESOURCE_LINKS_SINCE = "2025-06-18"


def linked(result: CallToolResult, ctx: Context, links: list[ResourceLink]) -> CallToolResult:
    """The answer with links to the resources that hold the whole of what it summarizes (a card's
    HTML, a whole log, an artifact's value), for a client that understands them: it can fetch
    them, or show them to its person, without another tool call."""
    version = ctx.protocol_version
    if links and version is not None and is_version_at_least(version, RESOURCE_LINKS_SINCE):
        result.content = [*result.content, *links]
    return result


def resource_link(uri: str, name: str, mime_type: str, description: str) -> ResourceLink:
    return ResourceLink(type="resource_link", uri=uri, name=name, mime_type=mime_type, description=description)


def task_pathspec(app: App, pathspec: str) -> tuple[str, bool]:
    """A checked Flow/run/step[/task], and whether it names a spin (the bridge knows where they live)."""
    spec = Pathspec.parse(pathspec, least="step", what="task pathspec")
    return str(spec), app.bridge.is_spin(spec.flow, spec.run)


MAX_SPLIT_CHARS = 200  # Metaflow keeps at most 30 characters of a split's value


def checked_split(split: str | int | None) -> str | int | None:
    """A foreach split as the agent names it: an input value (text) or an index."""
    if split is None:
        return None
    if isinstance(split, bool) or (isinstance(split, str) and (not split or len(split) > MAX_SPLIT_CHARS
                                                               or "\x00" in split)):
        raise BadArgumentError(f"split must be a foreach input value or an index, such as \"b\" or 2; got {split!r}.")
    return split


def per_split_text(head: str, rows: list[str], total: int | None, first: str | int | None,
                   call: Callable[[str], str]) -> str:
    """A foreach step's answer, a line per split (its first ones), then how to ask for one:
    `call(argument)` names the call with the first split's split= argument."""
    lines = [head, *(f"  {row}" for row in rows)]
    if (total or 0) > len(rows):
        lines.append(f"  … {total - len(rows)} more splits")
    lines.append(f"{call(json.dumps(first if first is not None else 0))} (split= takes an input value or an index).")
    return "\n".join(lines)


def normalise_id(value: str | int | None) -> str | None:
    """Run and task ids arrive as numbers or strings; Metaflow wants strings."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FlowmcpError(f"expected a run or task id, got {value!r}")
    text = str(value).strip()
    if not text or "\x00" in text or len(text) > 400:
        raise FlowmcpError(f"expected a run or task id such as 1718 or 'MyFlow/1718', got {value!r}")
    return text
