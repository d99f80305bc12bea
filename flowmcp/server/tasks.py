"""MCP Tasks: a long tool call (`run`, `resume`, a slow `spin`) answers with a task the client
polls, in both protocol eras.

- **2026-07-28** (the `io.modelcontextprotocol/tasks` extension, SEP-2663): a `tools/call` whose
  per-request capabilities declare the extension answers `resultType: "task"`; `tasks/get`
  carries status and progress and, once done, the very answer the blocking call gives;
  `tasks/cancel` and `tasks/update` acknowledge; no `tasks/result`, no `tasks/list`.
- **2025-11-25** (the `tasks` capability): the server declares `tasks` in `initialize`, the tools
  say `execution.taskSupport: "optional"`, a `tools/call` with a `task` field answers `{"task":
  ...}`, and `tasks/result` blocks until the answer is there.

A request that asks for neither gets today's synchronous answer. Task ids are bearer handles:
`secrets.token_urlsafe`, never a run's pathspec. A task lives until its TTL, and at least
`KEEP_AFTER_END_MS` after it ends. Cancelling stops the work as `cancel_run` does: a run through
its own cancel (its answer says what had finished), anything else by cancelling the call; the
jobs' processes are gone when the cancel answers.

The `Extension` advertises the extension and serves the `tasks/*` methods. A task is created in
a server middleware rather than `Extension.intercept_tool_call`: the interceptor's answer is
checked against `CallToolResult` on the 2025-11-25 wire, which a `CreateTaskResult` is not.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver.server import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SERVER_INFO_META_KEY,
    CancelTaskRequestParams,
    GetTaskPayloadRequestParams,
    GetTaskRequestParams,
    RequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, Field

from ..tools._runs import RUN_STARTED, RunJob

log = logging.getLogger("flowmcp")

EXTENSION_ID = "io.modelcontextprotocol/tasks"
LEGACY_VERSION = "2025-11-25"  # the one handshake revision that has tasks
RELATED_TASK = "io.modelcontextprotocol/related-task"
IMMEDIATE_RESPONSE = "io.modelcontextprotocol/model-immediate-response"

TTL_MS = 60 * 60 * 1000  # a task and its answer are kept an hour from its creation...
KEEP_AFTER_END_MS = 10 * 60 * 1000  # ...and at least ten minutes after it ends
MAX_TTL_MS = 24 * 60 * 60 * 1000  # the most a 2025-11-25 client may ask for
POLL_INTERVAL_MS = 2000
MAX_ENDED_TASKS = 200  # ended tasks kept at most; the oldest go first
STOP_WAIT_S = 20  # how long a cancel waits for a call that is not a run to unwind

TERMINAL = frozenset({"completed", "failed", "cancelled"})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Task:
    """One tool call running in the background, and what it answered."""

    id: str
    tool: str
    ttl_ms: int
    created: float = field(default_factory=time.time)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    status: str = "working"
    message: str | None = None  # the last progress the call reported
    result: dict[str, Any] | None = None  # the call's wire answer
    error: dict[str, Any] | None = None  # the JSON-RPC error the call raised
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    job: RunJob | None = None  # the run the call started, stopped as cancel_run stops it
    handed_out: bool = False  # a CreateTaskResult named it: progress is no longer the request's

    def touch(self) -> None:
        self.updated_at = _now()

    def expired(self, now: float) -> bool:
        return self.status in TERMINAL and now > self.created + self.ttl_ms / 1000

    def end(self, status: str) -> None:
        # A cancelled task stays cancelled, whatever the call did after the cancel.
        self.status = "cancelled" if self.status == "cancelled" else status
        ended_after_ms = int((time.time() - self.created) * 1000)
        self.ttl_ms = max(self.ttl_ms, ended_after_ms + KEEP_AFTER_END_MS)
        self.touch()
        self.done.set()

    def modern(self) -> dict[str, Any]:
        """The task as SEP-2663 shapes it (a DetailedTask: the answer inline once completed)."""
        data: dict[str, Any] = {"taskId": self.id, "status": self.status, "createdAt": self.created_at,
                                "lastUpdatedAt": self.updated_at, "ttlMs": self.ttl_ms,
                                "pollIntervalMs": POLL_INTERVAL_MS}
        if self.message:
            data["statusMessage"] = self.message
        if self.status == "completed" and self.result is not None:
            data["result"] = {k: v for k, v in self.result.items() if k != "resultType"}
        elif self.status == "failed" and self.error is not None:
            data["error"] = self.error
        return data

    def legacy(self) -> dict[str, Any]:
        """The task as 2025-11-25 shapes it: a tool answer with isError is a failed task there."""
        status = self.status
        if status == "completed" and self.result and self.result.get("isError"):
            status = "failed"
        data: dict[str, Any] = {"taskId": self.id, "status": status, "createdAt": self.created_at,
                                "lastUpdatedAt": self.updated_at, "ttl": self.ttl_ms,
                                "pollInterval": POLL_INTERVAL_MS}
        if self.message:
            data["statusMessage"] = self.message
        return data


class _Reporting:
    """The call's session, with its progress kept as the task's status message; progress goes to
    the client too until the task is handed out (then the request it belonged to has ended)."""

    def __init__(self, session: Any, task: Task):
        self._session, self._task = session, task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if message:
            self._task.message = message
            self._task.touch()
        if not self._task.handed_out:
            await self._session.report_progress(progress, total, message)


class UpdateTaskParams(RequestParams):
    """`tasks/update` (2026-07-28): answers to a task's input requests; flowmcp's tasks ask none."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")
    task_id: str = Field(alias="taskId")
    input_responses: dict[str, Any] | None = Field(default=None, alias="inputResponses")


# When a call becomes a task: None never, 0 at once, N seconds when it has not ended by then.
TaskPolicy = Callable[[str, dict[str, Any]], float | None]


class Tasks(Extension):
    identifier = EXTENSION_ID

    def __init__(self, policy: TaskPolicy, server_info: Callable[[], dict[str, Any]]):
        self.policy = policy
        self.server_info = server_info  # the serverInfo stamp a 2026-07-28 answer carries
        self.task_group: Any = None  # the server's, set by its lifespan: where tasks run
        self.tasks: dict[str, Task] = {}

    # ------------------------------------------------------------------ the methods

    def methods(self) -> list[MethodBinding]:
        modern = frozenset(MODERN_PROTOCOL_VERSIONS)
        return [
            MethodBinding("tasks/get", GetTaskRequestParams, self._get),
            MethodBinding("tasks/cancel", CancelTaskRequestParams, self._cancel),
            MethodBinding("tasks/update", UpdateTaskParams, self._update, protocol_versions=modern),
            MethodBinding("tasks/result", GetTaskPayloadRequestParams, self._result,
                          protocol_versions=frozenset({LEGACY_VERSION})),
        ]

    async def _get(self, ctx: ServerRequestContext, params: GetTaskRequestParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        return task.modern() if _is_modern(ctx) else task.legacy()

    async def _update(self, ctx: ServerRequestContext, params: UpdateTaskParams) -> dict[str, Any]:
        self._find(ctx, params.task_id)  # no task of ours waits for input: nothing to deliver
        return {}

    async def _cancel(self, ctx: ServerRequestContext, params: CancelTaskRequestParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        if _is_modern(ctx):
            await self.cancel(task)  # cancelling an ended task is acknowledged, as the extension asks
            return {}
        if task.status in TERMINAL:
            raise MCPError(INVALID_PARAMS, f"Task {task.id} already ended ({task.legacy()['status']}); "
                                           "there is nothing to cancel.")
        await self.cancel(task)
        return task.legacy()

    async def _result(self, ctx: ServerRequestContext, params: GetTaskPayloadRequestParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        await task.done.wait()
        if task.result is None and task.error is not None:
            raise _error(task.error)
        answer = task.result or {"content": [{"type": "text", "text": f"{task.tool} was cancelled; every "
                                              "process it started was stopped."}], "isError": True}
        return {**answer, "_meta": {**(answer.get("_meta") or {}), RELATED_TASK: {"taskId": task.id}}}

    def _find(self, ctx: ServerRequestContext, task_id: str) -> Task:
        if _is_modern(ctx):
            require_client_extension(ctx, EXTENSION_ID)
        self._forget_expired()
        task = self.tasks.get(task_id)
        if task is None:
            raise MCPError(INVALID_PARAMS, "Failed to retrieve task: no such task, or it expired (a task is kept "
                                           f"{TTL_MS // 60000} minutes, and {KEEP_AFTER_END_MS // 60000} after it "
                                           "ends). Call the tool again for a fresh answer.")
        return task

    def _forget_expired(self) -> None:
        now = time.time()
        ended = [t for t in self.tasks.values() if t.status in TERMINAL]
        for task in ended:
            if task.expired(now):
                del self.tasks[task.id]
        surplus = [t for t in self.tasks.values() if t.status in TERMINAL][:-MAX_ENDED_TASKS]
        for task in surplus:
            del self.tasks[task.id]

    # ------------------------------------------------------------------ running and stopping

    async def cancel(self, task: Task) -> None:
        """Stop the task's call and wait until its processes are gone."""
        if task.status in TERMINAL:
            return
        task.status = "cancelled"
        task.touch()
        if task.job is not None:
            await task.job.stop()  # the run's own cancel: its answer says what had finished
        if not task.done.is_set():
            task.scope.cancel()
            with anyio.move_on_after(STOP_WAIT_S):
                await task.done.wait()

    def _start(self, tool: str, ttl_ms: int, call: Callable[[Task], Awaitable[dict[str, Any]]]) -> Task:
        self._forget_expired()
        task = Task(id=secrets.token_urlsafe(24), tool=tool, ttl_ms=ttl_ms)
        self.tasks[task.id] = task
        self.task_group.start_soon(self._run, task, call)
        return task

    async def _run(self, task: Task, call: Callable[[Task], Awaitable[dict[str, Any]]]) -> None:
        RUN_STARTED.set(lambda job: setattr(task, "job", job))
        status = "failed"
        try:
            with task.scope:
                task.result = await call(task)
                status = "completed"
        except MCPError as ex:
            task.error = ex.error.model_dump(by_alias=True, mode="json", exclude_none=True)
        except Exception as ex:  # the call's bug: the client still learns the task failed, and why
            log.exception("task %s (%s) failed", task.id[:8], task.tool)
            task.error = {"code": INTERNAL_ERROR, "message": f"{task.tool} failed: {type(ex).__name__}: {ex}"}
        finally:
            task.end(status)

    # ------------------------------------------------------------------ the middleware

    async def middleware(self, ctx: ServerRequestContext, call_next) -> Any:
        """Server middleware: tasks out of `tools/call`, and the 2025-11-25 capability's words in
        `initialize` and `tools/list`."""
        method = ctx.method
        if method == "tools/call" and isinstance(ctx.params, dict) and self.task_group is not None:
            return await self._tools_call(ctx, call_next)
        result = await call_next(ctx)
        if method == "initialize" and isinstance(result, dict) and result.get("protocolVersion") == LEGACY_VERSION:
            result.setdefault("capabilities", {})["tasks"] = {"cancel": {}, "requests": {"tools": {"call": {}}}}
        elif method == "tools/list" and isinstance(result, dict) and ctx.protocol_version == LEGACY_VERSION:
            for tool in result.get("tools") or ():
                if self.policy(tool.get("name", ""), {}) is not None:
                    tool["execution"] = {"taskSupport": "optional"}
        return result

    async def _tools_call(self, ctx: ServerRequestContext, call_next) -> Any:
        params: dict[str, Any] = ctx.params
        name, arguments = params.get("name"), params.get("arguments")
        after = self.policy(name, arguments) if isinstance(name, str) and isinstance(arguments, dict) else None
        if _is_modern(ctx):
            declared = (ctx.session.client_capabilities and ctx.session.client_capabilities.extensions) or {}
            if after is None or EXTENSION_ID not in declared:
                return await call_next(ctx)
            return await self._as_task(ctx, call_next, name, TTL_MS, after)
        asked = params.get("task")
        if ctx.protocol_version != LEGACY_VERSION or asked is None:
            return await call_next(ctx)
        if after is None:
            raise MCPError(METHOD_NOT_FOUND, f"{name} does not run as a task (only tools whose execution.taskSupport "
                                             "is 'optional' do); call it without 'task'.")
        ttl = asked.get("ttl") if isinstance(asked, dict) else None
        ttl_ms = min(ttl, MAX_TTL_MS) if isinstance(ttl, int) and ttl > 0 else TTL_MS
        without = {k: v for k, v in params.items() if k != "task"}
        return await self._as_task(replace(ctx, params=without), call_next, name, ttl_ms, 0)

    async def _as_task(self, ctx: ServerRequestContext, call_next, name: str, ttl_ms: int, after: float) -> Any:
        async def call(task: Task) -> dict[str, Any]:
            return await call_next(replace(ctx, session=_Reporting(ctx.session, task)))

        task = self._start(name, ttl_ms, call)
        try:
            if after > 0:
                with anyio.move_on_after(after):
                    await task.done.wait()
        except anyio.get_cancelled_exc_class():  # the client gave up on the call: so does the task
            with anyio.CancelScope(shield=True):
                await self.cancel(task)
            raise
        if task.done.is_set() and task.status != "cancelled":
            del self.tasks[task.id]  # it ended in its grace time: the plain answer, no task
            if task.result is None and task.error is not None:
                raise _error(task.error)
            return task.result
        task.handed_out = True
        if _is_modern(ctx):
            return {**task.modern(), "resultType": "task", "_meta": {SERVER_INFO_META_KEY: self.server_info()}}
        said = (f"{name} is running in the background as a task; its whole answer arrives when it ends "
                "(its status and progress meanwhile with tasks/get).")
        return {"task": task.legacy(), "_meta": {IMMEDIATE_RESPONSE: said}}


def _error(error: dict[str, Any]) -> MCPError:
    """The JSON-RPC error a call raised, raised again (a task's answer is exactly the call's)."""
    return MCPError(error.get("code", INTERNAL_ERROR), error.get("message", ""), error.get("data"))


def _is_modern(ctx: ServerRequestContext) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
