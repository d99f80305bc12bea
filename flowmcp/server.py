"""Builds the MCP server: registers the tools and says how an agent should work with them."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from . import __version__, tools, workflow
from .app import App

INSTRUCTIONS = """\
flowmcp develops Metaflow flows one step at a time:
1. Write the flow skeleton (empty @steps) and the data-loading step, then run(flow) once.
2. Fill in the next step and spin(flow, step) it until it works (seconds; reuses the run's state).
3. run(flow) again to record that step's outputs; repeat 2-3 for every step; finish with a run.
Failures answer with your file:line, the exception and a did-you-mean; inspect_artifact shows
any value's type and shape; list_runs finds runs and failed steps."""

# Runs and spins change files under the root but never destroy the user's data.
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                          open_world_hint=False)
_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)

TOOLS = {
    tools.run: ("Run a Metaflow flow", _WRITES),
    tools.spin: ("Spin one step of a flow", _WRITES),
    tools.inspect_artifact: ("Inspect an artifact", _READS),
    tools.list_runs: ("List runs of a flow", _READS),
    tools.flow_status: ("Where a flow stands", _READS),
}


def build_server(app: App) -> MCPServer:
    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[App]:
        yield app

    server = MCPServer(
        name="flowmcp",
        title="flowmcp — Metaflow for coding agents",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        # Tool failures are answers to the agent, not server trouble: keep stderr for real problems.
        log_level="WARNING",
    )
    for fn, (title, hints) in TOOLS.items():
        server.add_tool(fn, title=title, annotations=hints, description=inspect.cleandoc(fn.__doc__ or ""))
    for fn, title in workflow.PROMPTS.items():
        server.prompt(title=title)(fn)
    return server
