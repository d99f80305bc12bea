"""`flowmcp call TOOL --args JSON`: one tool call without an MCP client, for scripts and CI.

A call goes to the root's project server (`flowmcp/daemon`), started in the background when none
runs; with `--no-daemon` (or where that cannot be), it runs here, through an in-process MCP
client. Either way it goes through the same server code as an agent's call, so the answer is the
same: the compact text, or the structured result with --json; pictures go to files (--out) and the
answer says where. Exit status: 0 when the tool succeeded, 1 when it answered with an error, 2 for
a usage error, 130 when Ctrl-C or SIGTERM cancelled it (`daemon/client.py` names them).

Only light modules at the top: the project server's callers import this module too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..daemon.client import USAGE, print_result
from ..server.schemas import usage_problem

if TYPE_CHECKING:
    from ..app import App



def parse_arguments(arguments_json: str) -> dict[str, Any] | None:
    """--args as a dict; None (after saying why on stderr) when it is not a JSON object."""
    try:
        arguments = json.loads(arguments_json)
    except json.JSONDecodeError as ex:
        print(f"flowmcp call: --args is not JSON ({ex.msg} at character {ex.pos})", file=sys.stderr)
        return None
    if not isinstance(arguments, dict):
        print("flowmcp call: --args must be a JSON object, e.g. '{\"flow\": \"flow.py\"}'", file=sys.stderr)
        return None
    return arguments


def check_out(out: str | None) -> bool:
    """--out names a file in a folder that exists (said on stderr when it does not)."""
    if out is None:
        return True
    path = Path(out).expanduser()
    if path.is_dir() or not path.parent.is_dir():
        print(f"flowmcp call: --out {out} must name a file in an existing folder", file=sys.stderr)
        return False
    return True


def call(app: App, tool: str, arguments: dict[str, Any], as_json: bool, out: str | None = None) -> int:
    """The call in this process, through an in-memory MCP client (`--no-daemon`)."""
    import anyio

    return anyio.run(_call, app, tool, arguments, as_json, out)


async def _call(app: App, tool: str, arguments: dict, as_json: bool, out: str | None) -> int:
    from mcp import Client

    from ..server.build import build_server

    async with Client(build_server(app)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        if tool not in tools:
            print(f"flowmcp call: no tool {tool!r}; the tools are {', '.join(sorted(tools))}", file=sys.stderr)
            return USAGE
        problem = usage_problem(tool, tools[tool].input_schema, arguments)
        if problem:
            print(f"flowmcp call {tool}: {problem}", file=sys.stderr)
            return USAGE
        result = await client.call_tool(tool, arguments)
    return print_result(result.model_dump(by_alias=True, mode="json", exclude_none=True), tool, as_json, out)
