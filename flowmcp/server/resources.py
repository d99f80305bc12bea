"""Big things an agent fetches only when it wants them, as MCP resource templates: a card's
HTML, a task's whole cleaned log, an artifact's JSON value."""

from __future__ import annotations

from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..app import App
from ..errors import BadArgumentError, FlowmcpError, NotFoundError, OutsideRootError
from ..redaction import redact, redact_card
from ..tools._common import task_pathspec


def register(server: MCPServer, app: App) -> None:
    @server.resource("flowmcp://card/{flow}/{run_id}/{step}/{task_id}/{index}", mime_type="text/html",
                     title="A Metaflow card's HTML",
                     description="The whole HTML of a card a run's or spin's task rendered (index as list_cards "
                                 "numbers them), secrets redacted; list_cards and view_card link it")
    async def card(flow: str, run_id: str, step: str, task_id: str, index: str) -> str:
        async with _reading(app, f"{flow}/{run_id}/{step}/{task_id}") as (pathspec, spin):
            return redact_card((await app.bridge.cards(pathspec, spin=spin, index=_index(index)))["html"])

    @server.resource("flowmcp://logs/{flow}/{run_id}/{step}/{task_id}/{stream}", mime_type="text/plain",
                     title="A task's whole log, cleaned",
                     description="A task's whole stdout or stderr, as get_logs cleans it (Metaflow's prefixes and "
                                 "redraws removed), with no line limit; get_logs links it")
    async def logs(flow: str, run_id: str, step: str, task_id: str, stream: str) -> str:
        if stream not in ("stdout", "stderr"):
            raise ResourceNotFoundError(f"stream must be stdout or stderr, not {stream!r}")
        async with _reading(app, f"{flow}/{run_id}/{step}/{task_id}") as (pathspec, spin):
            return redact((await app.bridge.logs(pathspec, stream, spin=spin, full=True))["text"])

    @server.resource("flowmcp://artifact/{flow}/{run_id}/{step}/{task_id}/{name}", mime_type="application/json",
                     title="An artifact's value (JSON data; a summary for anything else)",
                     description="An artifact of a run's or persisted spin's task: its value as JSON when it is "
                                 "JSON data, else inspect_artifact's summary; inspect_artifact links it")
    async def artifact(flow: str, run_id: str, step: str, task_id: str, name: str) -> str:
        async with _reading(app, f"{flow}/{run_id}/{step}/{task_id}") as (pathspec, spin):
            return redact((await app.bridge.artifact_value(pathspec, name, spin=spin))["text"])


def _index(text: str) -> int:
    if not text.isdigit():
        raise ResourceNotFoundError(f"card index must be a number, not {text!r}")
    return int(text)


@asynccontextmanager
async def _reading(app: App, pathspec: str):
    """A checked task pathspec and whether it names a spin; flowmcp's errors as resource errors
    (one that names nothing is 'not found', anything else a failure to read)."""
    try:
        yield task_pathspec(app, pathspec)
    except (NotFoundError, BadArgumentError, OutsideRootError) as ex:
        raise ResourceNotFoundError(str(ex)) from None
    except FlowmcpError as ex:
        raise ResourceError(str(ex)) from None
