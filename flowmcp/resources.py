"""Big things an agent fetches only when it wants them, as MCP resource templates: a card's
HTML, a task's whole cleaned log, an artifact's JSON value."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from .app import App
from .errors import FlowmcpError
from .tools._common import redact, task_pathspec


def register(server: MCPServer, app: App) -> None:
    @server.resource("flowmcp://card/{flow}/{run_id}/{step}/{task_id}/{index}", mime_type="text/html",
                     title="A Metaflow card's HTML")
    async def card(flow: str, run_id: str, step: str, task_id: str, index: str) -> str:
        data = await _job(app, "cards", f"{flow}/{run_id}/{step}/{task_id}", index=_index(index))
        return data["html"]

    @server.resource("flowmcp://logs/{flow}/{run_id}/{step}/{task_id}/{stream}", mime_type="text/plain",
                     title="A task's whole log, cleaned")
    async def logs(flow: str, run_id: str, step: str, task_id: str, stream: str) -> str:
        if stream not in ("stdout", "stderr"):
            raise ResourceNotFoundError(f"stream must be stdout or stderr, not {stream!r}")
        data = await _job(app, "logs", f"{flow}/{run_id}/{step}/{task_id}", stream=stream, full=True)
        return redact(data["text"])

    @server.resource("flowmcp://artifact/{flow}/{run_id}/{step}/{task_id}/{name}", mime_type="application/json",
                     title="An artifact's value (JSON data; a summary for anything else)")
    async def artifact(flow: str, run_id: str, step: str, task_id: str, name: str) -> str:
        data = await _job(app, "artifact_value", f"{flow}/{run_id}/{step}/{task_id}", name=name)
        return redact(data["text"])


def _index(text: str) -> int:
    if not text.isdigit():
        raise ResourceNotFoundError(f"card index must be a number, not {text!r}")
    return int(text)


async def _job(app: App, op: str, pathspec: str, **request) -> dict:
    try:
        pathspec, is_spin = task_pathspec(app, pathspec)
    except FlowmcpError as ex:
        raise ResourceNotFoundError(str(ex)) from None
    outcome = await app.bridge.call(op, {"pathspec": pathspec, "spin": is_spin, **request}, timeout=300)
    if not outcome.ok:
        error = ResourceError if outcome.error.get("kind") == "internal" else ResourceNotFoundError
        raise error(outcome.error.get("message", f"{pathspec}: not found"))
    return outcome.data
