"""Builds the MCP server: registers the tools and says how an agent should work with them."""

from __future__ import annotations

import functools
import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    EmptyResult,
    SetLevelRequestParams,
    TextContent,
    ToolAnnotations,
)

from .. import __version__, tools
from ..app import App
from . import apps, completion, protocol, resources, skills, tasks, workflow
from .schemas import unknown_arguments

INSTRUCTIONS = """\
Develop Metaflow flows one verified step at a time (flow_status(flow) shows where you are):
1. Write the skeleton (empty @steps) and the data-loading step, then run(flow) once.
2. Fill in the next step only and spin(flow, step) it until it works (seconds; reuses the run).
3. run(flow) to record that step's outputs; repeat 2-3 for every step; end with a full run.
A failure answers with your file:line and a did-you-mean; inspect_artifact shows a value's shape."""

# Runs and spins change files under the root but never destroy the user's data.
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                          open_world_hint=False)
_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)

TOOLS = {
    tools.run: ("Run a Metaflow flow", _WRITES),
    tools.spin: ("Spin one step of a flow", _WRITES),
    tools.resume: ("Resume a failed run", _WRITES),
    tools.inspect_artifact: ("Inspect an artifact", _READS),
    tools.list_runs: ("List runs of a flow", _READS),
    tools.flow_status: ("Where a flow stands", _READS),
    tools.run_status: ("Status of a run", _READS),
    tools.get_logs: ("Read a task's logs", _READS),
    tools.list_cards: ("List a task's cards", _READS),
    tools.view_card: ("See a card as it renders", _READS),
    # Tries the profile's datastore and metadata service over the network, and may start a worker.
    tools.doctor: ("Check the set-up", ToolAnnotations(read_only_hint=True, open_world_hint=True)),
    tools.cancel_run: ("Cancel a background run", ToolAnnotations(read_only_hint=False, destructive_hint=True,
                                                                   idempotent_hint=True, open_world_hint=False)),
}


SPIN_TASK_AFTER_S = 2.0  # a spin that has not ended by then becomes a task (most end in a second)


def task_after(tool: str, arguments: dict) -> float | None:
    """When a call becomes an MCP task for a client that takes tasks (server/tasks.py): a run or a
    resume at once (unless it was asked not to wait), a spin when it is slow, nothing else."""
    if tool in ("run", "resume"):
        return None if arguments.get("wait") is False else 0.0
    return SPIN_TASK_AFTER_S if tool == "spin" else None


@functools.cache
def _registered_tools() -> tuple[Tool, ...]:
    """Each tool as the SDK registers it, made once per process: its schemas come from its
    signature and return model alone, and building them was three quarters of a server's
    construction (57 ms; 15 ms with copies). Every server takes copies bound to its own app."""
    return tuple(Tool.from_function(fn, title=title, annotations=hints, description=inspect.cleandoc(fn.__doc__ or ""),
                                    meta=apps.tool_meta(fn.__name__))
                 for fn, (title, hints) in TOOLS.items())


def _bound_tools(app: App) -> list[Tool]:
    return [tool.model_copy(update={"fn": _telling_what_is_off(app, fn)})
            for tool, fn in zip(_registered_tools(), TOOLS)]


def _telling_what_is_off(app: App, tool):
    """The tool, its answer ending with what this Metaflow makes flowmcp do without (a missing
    internal: `bridge/metaflow_compat.py`), once per server. The signature, and so the schema,
    are the tool's own."""

    @functools.wraps(tool)
    async def answer_and_tell(*args, **kwargs):
        result = await tool(*args, **kwargs)
        notes = app.bridge.untold_notes()
        if notes and isinstance(result, CallToolResult):
            result.content = [*result.content, TextContent(type="text", text="\n".join(notes))]
        return result

    return answer_and_tell


def _known_arguments_only(get_server):
    """Server middleware: a tool call naming an argument the tool does not take is an error
    that says so, with the names it takes (the SDK drops unknown arguments silently: `spin(...,
    run_pathspec=X)` would spin the latest run, and the agent would read the answer as X's)."""

    async def middleware(ctx, call_next):
        params = getattr(ctx, "params", None)
        if getattr(ctx, "method", None) == "tools/call" and isinstance(params, dict):
            tool = get_server()._tool_manager.get_tool(str(params.get("name")))
            arguments = params.get("arguments")
            if tool is not None and isinstance(arguments, dict):
                problem = unknown_arguments(tool.parameters, arguments)
                if problem:
                    return CallToolResult(content=[TextContent(type="text", text=f"{tool.name}: {problem}")],
                                          is_error=True)
        return await call_next(ctx)

    return middleware


def started() -> None:
    """A server has imported and built what it serves with: collect cycles again from here on,
    leaving out everything made so far (it lives as long as the server)."""
    gc.enable()
    gc.freeze()


def build_server(app: App) -> MCPServer:
    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[App]:
        # Background runs (run(wait=False)) live in this task group: when the server stops, they
        # are cancelled, and cancelling a job kills its whole process tree.
        async with anyio.create_task_group() as task_group:
            app.task_group = long_calls.task_group = task_group
            if app.prewarm:
                task_group.start_soon(app.warm_up)
            try:
                yield app
            finally:
                task_group.cancel_scope.cancel()
                await app.bridge.aclose()  # warm workers go with the server

    long_calls = tasks.Tasks(task_after, lambda: server._lowlevel_server.server_info_stamp)
    server = MCPServer(
        name="flowmcp",
        title="flowmcp — Metaflow for coding agents",
        version=__version__,
        website_url=protocol.WEBSITE_URL,
        icons=protocol.icons(),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        # Tool failures are answers to the agent, not server trouble: keep stderr for real problems.
        log_level="WARNING",
        extensions=[apps.extension(), long_calls, skills.Skills(workflow.skill_text(
            *workflow.launch_command(app.config.root, app.config.python)))],
        middleware=[apps.offered_to_app_hosts, protocol.one_page_lists, _known_arguments_only(lambda: server),
                    long_calls.middleware],
        tools=_bound_tools(app),
    )
    for fn, title in workflow.PROMPTS.items():
        server.prompt(title=title)(fn)
    resources.register(server, app)

    @server.completion()
    async def complete_prompt_argument(ref, argument, context):
        return await completion.complete(app, ref, argument, context)

    # MCPServer has no public hook for logging/setLevel (deprecated in the 2026-07-28 protocol, still
    # used by 2025 clients and checked by the conformance suite); the low-level server takes it.
    async def set_level(_ctx, params: SetLevelRequestParams) -> EmptyResult:
        logging.getLogger("flowmcp").setLevel(params.level.upper() if params.level != "emergency" else "CRITICAL")
        return EmptyResult()

    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    protocol.serve_discovery(server)
    _prompt_arguments_checked(server)
    return server


def _prompt_arguments_checked(server: MCPServer) -> None:
    """A prompt asked for by a name that does not exist, or without a required argument, is the
    caller's mistake: say which (INVALID_PARAMS). The SDK raises a plain ValueError there, which
    reaches the client as "Internal server error"."""
    lowlevel = server._lowlevel_server
    entry = lowlevel.get_request_handler("prompts/get")

    async def get_prompt(ctx, params):
        prompts = {p.name: p for p in await server.list_prompts()}
        prompt = prompts.get(params.name)
        if prompt is None:
            raise MCPError(INVALID_PARAMS, f"No prompt {params.name!r}; the prompts are {', '.join(sorted(prompts))}")
        arguments = prompt.arguments or []
        missing = [a.name for a in arguments if a.required and a.name not in (params.arguments or {})]
        if missing:
            takes = ", ".join(f"{a.name}{' (required)' if a.required else ''}" for a in arguments)
            raise MCPError(INVALID_PARAMS, f"Prompt {params.name} needs {', '.join(missing)}; it takes: {takes}")
        return await entry.handler(ctx, params)

    lowlevel.add_request_handler("prompts/get", entry.params_type, get_prompt)
