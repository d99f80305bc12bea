"""What the server says of itself on the wire, per protocol era, where the SDK's defaults say less
than is true: every protocol version it serves in `server/discover`, the deprecated `logging`
capability only to the handshake era that has it, `listChanged` in both eras, its website and
icon; an invalid pagination cursor is -32602 (every list is one page), and over HTTP a body that
is JSON but not a JSON-RPC message is -32600 (the SDK answers -32602)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, Icon, RequestParams
from mcp_types.jsonrpc import jsonrpc_message_adapter
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from .stdio import bad_id

WEBSITE_URL = "https://github.com/flowmcp/flowmcp"
ICON = Path(__file__).parent.parent / "templates" / "icon.svg"
LIST_METHODS = frozenset({"tools/list", "prompts/list", "resources/list", "resources/templates/list"})
LISTS = ("tools", "prompts", "resources")  # the catalogs whose listChanged the server declares
MAX_CHECKED_BODY_BYTES = 4 * 1024 * 1024  # a bigger body goes to the SDK as it is, which refuses it


def icons() -> list[Icon]:
    data = base64.b64encode(ICON.read_bytes()).decode()
    return [Icon(src=f"data:image/svg+xml;base64,{data}", mime_type="image/svg+xml", sizes=["any"])]


async def one_page_lists(ctx: ServerRequestContext, call_next) -> Any:
    """Server middleware: every list is one page, so a cursor names none of them (the SDK's list
    handlers ignore it and answer the first page again); and the 2025 handshake says
    listChanged as the 2026 discovery does (the catalogs are fixed for the server's life)."""
    params = ctx.params if isinstance(ctx.params, dict) else {}
    if ctx.method in LIST_METHODS and params.get("cursor") is not None:
        raise MCPError(INVALID_PARAMS, f"Invalid cursor for {ctx.method}: it has one page, and gives no cursor; "
                                       "call it without one.")
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        for name in LISTS:
            capability = (result.get("capabilities") or {}).get(name)
            if isinstance(capability, dict):
                capability["listChanged"] = True
    return result


def serve_discovery(server: MCPServer) -> None:
    """`server/discover` lists the handshake versions too (the same server answers `initialize`
    with them), and leaves out `logging`, which 2026-07-28 deprecates: that era's clients log
    nothing through the server."""
    lowlevel = server._lowlevel_server
    entry = lowlevel.get_request_handler("server/discover")

    async def discover(ctx: ServerRequestContext, params: RequestParams) -> Any:
        result = await entry.handler(ctx, params)
        result.supported_versions = [*MODERN_PROTOCOL_VERSIONS, *reversed(HANDSHAKE_PROTOCOL_VERSIONS)]
        result.capabilities.logging = None
        return result

    lowlevel.add_request_handler("server/discover", entry.params_type, discover)


class InvalidRequests:
    """ASGI middleware: a POST whose body is a JSON object but not a JSON-RPC message (a method
    that is not a string, no jsonrpc member), or a request whose id is no string or integer
    (`stdio.bad_id`), is an Invalid Request, -32600, with HTTP 400."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body") or size > MAX_CHECKED_BODY_BYTES:
                break
        body = b"".join(m.get("body", b"") for m in messages) if size <= MAX_CHECKED_BODY_BYTES else b""
        unanswerable = bad_id(body)  # an id the SDK would take for none: it would answer nothing
        if unanswerable is not None:
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            return await send({"type": "http.response.body", "body": unanswerable.model_dump_json(
                by_alias=True, exclude_unset=True).encode()})
        invalid, identifier = _invalid_request(body) if body else (False, None)
        if invalid:
            body = json.dumps({"jsonrpc": "2.0", "id": identifier, "error": {
                "code": INVALID_REQUEST, "message": "Invalid Request: not a JSON-RPC 2.0 request, notification or "
                                                   "response (a method must be a string)"}}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            return await send({"type": "http.response.body", "body": body})

        replay = iter(messages)

        async def replayed():
            return next(replay, None) or await receive()

        return await self.app(scope, replayed, send)


def _invalid_request(body: bytes) -> tuple[bool, Any]:
    """Whether `body` is a JSON object that is not a JSON-RPC message, and the id to answer with
    (the SDK answers whatever is not JSON, and every message, itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return False, None
    if not isinstance(data, dict):
        return False, None
    try:
        jsonrpc_message_adapter.validate_python(data, by_name=False)
    except ValidationError:
        identifier = data.get("id")
        return True, identifier if isinstance(identifier, (str, int)) and not isinstance(identifier, bool) else None
    return False, None
