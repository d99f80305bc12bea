"""The client side of MCP Tasks for tests, on the SDK's own client: the 2026-07-28 extension as a
`ClientExtension` whose claim on `resultType: "task"` polls `tasks/get` (what a host does), and
raw 2025-11-25 requests (the SDK 2.3.0 client checks a `tools/call` answer as a CallToolResult on
that wire, so a `{"task": ...}` answer is read through its dispatcher, unparsed)."""

from __future__ import annotations

from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client.extension import ClientExtension, ResultClaim
from mcp_types import (
    CallToolResult,
    CancelTaskRequest,
    CancelTaskRequestParams,
    GetTaskPayloadRequest,
    GetTaskPayloadRequestParams,
    GetTaskRequest,
    GetTaskRequestParams,
    Result,
)
from pydantic import TypeAdapter

EXTENSION_ID = "io.modelcontextprotocol/tasks"
ANY = TypeAdapter(dict[str, Any])
TERMINAL = ("completed", "failed", "cancelled")


class CreatedTask(Result):
    """A 2026-07-28 CreateTaskResult: the task's fields at the top level."""

    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None
    status_message: str | None = None


class TasksClient(ClientExtension):
    """Declares the extension on every request; a task answer is polled to its end, and every
    `tasks/get` answer is kept in `polls`."""

    identifier = EXTENSION_ID

    def __init__(self, poll_s: float = 0.1):
        self.poll_s = poll_s
        self.created: list[CreatedTask] = []
        self.polls: list[dict[str, Any]] = []

    def claims(self):
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self._resolve)]

    async def _resolve(self, created: CreatedTask, ctx) -> CallToolResult:
        self.created.append(created)
        while True:
            got = await get(ctx.session, created.task_id)
            self.polls.append(got)
            if got["status"] in TERMINAL:
                if got["status"] != "completed":
                    raise AssertionError(f"task ended {got['status']}: {got}")
                return CallToolResult.model_validate(got["result"])
            await anyio.sleep(self.poll_s)


async def get(session, task_id: str) -> dict[str, Any]:
    return await session.send_request(GetTaskRequest(params=GetTaskRequestParams(task_id=task_id)), ANY)


async def cancel(session, task_id: str) -> dict[str, Any]:
    return await session.send_request(CancelTaskRequest(params=CancelTaskRequestParams(task_id=task_id)), ANY)


async def result(session, task_id: str) -> dict[str, Any]:
    return await session.send_request(GetTaskPayloadRequest(params=GetTaskPayloadRequestParams(task_id=task_id)), ANY)


async def raw(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A request and its answer as they are on the wire (no result validation)."""
    return await client.session._dispatcher.send_raw_request(method, params, {})


async def call_as_task(client: Client, tool: str, arguments: dict[str, Any], ttl: int | None = None) -> dict:
    """A 2025-11-25 task-augmented tools/call: the answer as sent ({"task": ...} or a plain result)."""
    return await raw(client, "tools/call", {"name": tool, "arguments": arguments, "task": {} if ttl is None
                                            else {"ttl": ttl}})


async def until(session, task_id: str, done, deadline_s: float = 60) -> dict[str, Any]:
    """tasks/get until `done(answer)` holds: never a fixed sleep before an assert."""
    with anyio.fail_after(deadline_s):
        while True:
            got = await get(session, task_id)
            if done(got):
                return got
            await anyio.sleep(0.1)
