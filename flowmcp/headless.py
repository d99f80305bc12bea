"""`flowmcp call TOOL --args JSON`: one tool call without an MCP client, for scripts and CI.

It goes through the same server code as an agent's call (an in-process MCP client), so the
answer is the same: the compact text, or the structured result with --json. Exit status: 0 when
the tool succeeded, 1 when it answered with an error, 2 for a usage error.
"""

from __future__ import annotations

import json
import sys

import anyio

from .app import App

OK, TOOL_ERROR, USAGE = 0, 1, 2


def call(app: App, tool: str, arguments_json: str, as_json: bool) -> int:
    try:
        arguments = json.loads(arguments_json)
    except json.JSONDecodeError as ex:
        print(f"flowmcp call: --args is not JSON ({ex.msg} at character {ex.pos})", file=sys.stderr)
        return USAGE
    if not isinstance(arguments, dict):
        print("flowmcp call: --args must be a JSON object, e.g. '{\"flow\": \"flow.py\"}'", file=sys.stderr)
        return USAGE
    return anyio.run(_call, app, tool, arguments, as_json)


async def _call(app: App, tool: str, arguments: dict, as_json: bool) -> int:
    from mcp import Client

    from .server import build_server

    async with Client(build_server(app)) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        if tool not in names:
            print(f"flowmcp call: no tool {tool!r}; the tools are {', '.join(names)}", file=sys.stderr)
            return USAGE
        result = await client.call_tool(tool, arguments)
    if as_json:
        print(json.dumps(result.structured_content if result.structured_content is not None else
                         {"error": _text(result)}, indent=2))
    else:
        print(_text(result))
    return TOOL_ERROR if result.is_error else OK


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
