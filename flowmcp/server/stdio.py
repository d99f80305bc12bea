"""MCP over stdio, with an answer for every line the client sends.

The SDK's stdio transport drops a line it cannot read (JSON cut short, a number with more than
4,300 digits, arrays nested thousands deep) without a word, and the client waits forever. Here
each such line gets the JSON-RPC error the spec gives it — -32700 for what does not parse, -32600
for what is not a JSON-RPC message — with the request's id when it can be read off the line, and
the server goes on. Everything else is the SDK's own transport (including its diversion of fds 0
and 1, so nothing a flow prints reaches the channel).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError

from ..summarize.text import cut_end

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
MAX_PROBLEM_CHARS = 500  # of what was wrong with a request
# The id of a request, as it appears in the message's own top level: "id" before any "params" or
# "result" (an "id" inside arguments is not the request's).
_ID = re.compile(r'^\s*\{(?:(?!"params"|"result"|"error").){0,400}?"id"\s*:\s*(-?\d{1,15}|"(?:[^"\\]|\\.){0,200}")',
                 re.DOTALL)


async def serve(server: MCPServer) -> None:
    lowlevel = server._lowlevel_server  # the SDK's own stdio runner, fed through `answered` below
    async with stdio_server() as (read_stream, write_stream):
        inner_send, inner_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def answered() -> None:
            async with inner_send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(error_for(item)))
                        continue
                    await inner_send.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(answered)
            await lowlevel.run(inner_receive, write_stream, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()


def error_for(problem: Exception) -> JSONRPCError:
    """The JSON-RPC error for a line the transport could not read."""
    details = problem.errors() if hasattr(problem, "errors") else []
    first = details[0] if details else {}
    raw = first.get("input")
    if first.get("type") == "json_invalid":
        reason = str((first.get("ctx") or {}).get("error") or first.get("msg") or problem)
        if "number out of range" in reason:
            reason += " (a number this long cannot be read; send it as a string)"
        elif "recursion limit" in reason:
            reason += " (nested too deep to read)"
        return JSONRPCError(jsonrpc="2.0", id=_id_of(raw),
                            error=ErrorData(code=PARSE_ERROR, message=f"Parse error: {reason}"))
    what = "; ".join(f"{'.'.join(map(str, d.get('loc', ())))}: {d.get('msg')}" for d in details[:3]) or str(problem)
    message = f"Invalid request: {cut_end(what, MAX_PROBLEM_CHARS)}"
    return JSONRPCError(jsonrpc="2.0", id=_id_of(raw), error=ErrorData(code=INVALID_REQUEST, message=message))


def _id_of(raw: Any) -> int | str | None:
    if isinstance(raw, dict):
        value = raw.get("id")
        return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if isinstance(raw, str):
        match = _ID.match(raw)
        if match:
            text = match.group(1)
            if text.startswith('"'):
                try:
                    return json.loads(text)
                except ValueError:
                    return None
            return int(text)
    return None
