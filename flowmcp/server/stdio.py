"""MCP over stdio, with an answer for every line the client sends.

The SDK's stdio transport drops a line it cannot read (JSON cut short, a number with more than
4,300 digits, arrays nested thousands deep) without a word, and reads a request whose id is
neither a string nor an integer (an object, `1e400`, `1.5`, `true`, null) as a notification,
which gets no answer: either way the client waits forever. Here each such line gets the JSON-RPC
error the spec gives it — -32700 for what does not parse, -32600 for what is not a JSON-RPC
request — with the request's id when it can be read off the line whole (never a part of it), and
the server goes on. Everything else is the SDK's own transport; it reads the channel from a copy
of fd 0 that is ours alone, and fd 0 (as the SDK does with fd 1) points at the null device, so
nothing a tool or a flow reads takes a client's message.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError

from ..summarize.text import cut_end

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
MAX_PROBLEM_CHARS = 500  # of what was wrong with a request
MAX_SHOWN_ID_CHARS = 40
MAX_ID_DIGITS = 15  # an id read off a line that does not parse: longer numbers are not read in part
# The id of a request, as it appears in the message's own top level: "id" before any "params" or
# "result" (an "id" inside arguments is not the request's), and only a whole one.
_ID = re.compile(r'^\s*\{(?:(?!"params"|"result"|"error").){0,400}?"id"\s*:\s*'
                 rf'(-?\d{{1,{MAX_ID_DIGITS}}}(?![\d.eE])|"(?:[^"\\]|\\.){{0,200}}")', re.DOTALL)


async def serve(server: MCPServer) -> None:
    lowlevel = server._lowlevel_server  # the SDK's own stdio runner, fed through `answered` below
    refused_send, refused_receive = anyio.create_memory_object_stream[JSONRPCError](0)
    with _channel() as channel:
        async with stdio_server(stdin=_Requests(channel, refused_send)) as (read_stream, write_stream):
            inner_send, inner_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

            async def answered() -> None:
                async with inner_send:
                    async for item in read_stream:
                        if isinstance(item, Exception):
                            await write_stream.send(SessionMessage(error_for(item)))
                            continue
                        await inner_send.send(item)

            async def refused() -> None:
                async with refused_receive:
                    async for error in refused_receive:
                        await write_stream.send(SessionMessage(error))

            async with anyio.create_task_group() as group:
                group.start_soon(answered)
                group.start_soon(refused)
                await lowlevel.run(inner_receive, write_stream, lowlevel.create_initialization_options())
                group.cancel_scope.cancel()


@contextlib.contextmanager
def _channel() -> Iterator[Any]:
    """The client's lines, from a copy of fd 0 kept for the transport (above the standard fds,
    not inherited); fd 0 itself reads the null device while we serve, and is the channel again
    after. Where fd 0 cannot be copied, the lines come from sys.stdin as they are."""
    try:
        private = _copy_above_standard_fds(0)
    except OSError:
        yield anyio.wrap_file(sys.stdin)
        return
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # closefd=False: a thread may still block reading it after we stop; it is never reused under it.
    text = io.TextIOWrapper(os.fdopen(private, "rb", closefd=False), encoding="utf-8", errors="replace")
    try:
        yield anyio.wrap_file(text)
    finally:
        with contextlib.suppress(OSError):
            os.dup2(private, 0)


def _copy_above_standard_fds(fd: int) -> int:
    try:
        import fcntl
    except ImportError:  # Windows: a copy that lands on a standard fd is no good
        copy = os.dup(fd)
        if copy <= 2:
            os.close(copy)
            raise OSError(f"the copy of fd {fd} landed on a standard fd") from None
        return copy
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


class _Requests:
    """The client's lines for the SDK, less the requests whose id it would read as no id at all:
    those are answered (through `refused`) rather than passed on."""

    def __init__(self, lines, refused):
        self.lines, self.refused = lines, refused

    def __aiter__(self) -> AsyncIterator[str]:
        return self._checked()

    async def _checked(self) -> AsyncIterator[str]:
        async for line in self.lines:
            error = bad_id(line)
            if error is None:
                yield line
            else:
                await self.refused.send(error)


def bad_id(line: str | bytes) -> JSONRPCError | None:
    """The error for a request (it names a method) whose id is not a string or an integer, which
    the SDK would take for a notification and never answer; None for anything else."""
    marker = b'"id"' if isinstance(line, bytes) else '"id"'
    if marker not in line:
        return None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # the SDK says what does not parse
        return None
    if not isinstance(message, dict) or "id" not in message or "method" not in message:
        return None
    request_id = message["id"]
    if isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)):
        return None
    if request_id is None:
        what = "null"
    elif isinstance(request_id, float):
        what = f"a fraction ({request_id:g})" if math.isfinite(request_id) else "a number out of range"
    else:
        what = {dict: "an object", list: "an array", bool: "a boolean"}.get(type(request_id), "something else")
        what += f" ({cut_end(json.dumps(request_id), MAX_SHOWN_ID_CHARS)})"
    return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(
        code=INVALID_REQUEST, message=f"Invalid request: a request's id is a string or an integer, not {what}"))


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
    if isinstance(raw, bytes):  # the project server reads a call's lines as bytes
        raw = raw.decode("utf-8", "replace")
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
