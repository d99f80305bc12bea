"""The MCP Tasks layer (flowmcp/server/tasks.py) on a toy server, through the SDK's client in both
eras: a task answer, tasks/get with the blocking call's answer, cancel, TTL, errors, and plain
answers for clients that do not take tasks. Real runs as tasks: tests/test_task_runs.py."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from flowmcp.server import tasks as tasks_module
from flowmcp.server.tasks import Tasks

from .taskclient import TasksClient, call_as_task, cancel, get, raw, result, until

pytestmark = pytest.mark.anyio


class Toy:
    """A server with one task-capable tool, `work`, that says when it was stopped."""

    def __init__(self):
        self.stopped: list[float] = []
        self.ext = Tasks(lambda name, args: args.get("grace", 0.0) if name == "work" else None,
                         lambda: self.server._lowlevel_server.server_info_stamp)

        @asynccontextmanager
        async def lifespan(_server):
            async with anyio.create_task_group() as group:
                self.ext.task_group = group
                yield {}
                group.cancel_scope.cancel()

        self.server = MCPServer("toy", lifespan=lifespan, extensions=[self.ext], middleware=[self.ext.middleware])

        @self.server.tool()
        async def work(seconds: float, ctx: Context, grace: float = 0.0, fail: bool = False,
                       broken: bool = False) -> str:
            """Works for `seconds`."""
            await ctx.report_progress(1, None, "halfway there")
            try:
                await anyio.sleep(seconds)
            except anyio.get_cancelled_exc_class():
                self.stopped.append(seconds)
                raise
            if broken:
                raise MCPError(-32603, "the work broke", {"why": "told to"})
            if fail:
                raise ToolError("the work failed")
            return f"worked {seconds} s"

        @self.server.tool()
        async def quick() -> str:
            """Answers at once."""
            return "done"


@pytest.fixture
def toy():
    return Toy()


async def test_a_request_that_asks_for_no_task_gets_the_plain_answer(toy, era):
    async with Client(toy.server, mode=era) as client:
        answer = await client.call_tool("work", {"seconds": 0})
    assert answer.content[0].text == "worked 0.0 s" and not toy.ext.tasks


async def test_a_declaring_request_gets_a_task_whose_get_carries_the_blocking_answer(toy):
    tasks = TasksClient()
    async with Client(toy.server) as plain, Client(toy.server, extensions=[tasks]) as taking:
        blocking = await plain.call_tool("work", {"seconds": 0.3})
        answer = await taking.call_tool("work", {"seconds": 0.3})
        assert taking.protocol_version == "2026-07-28"
    created = tasks.created[0]
    assert created.status == "working" and created.ttl_ms == tasks_module.TTL_MS
    assert created.poll_interval_ms == tasks_module.POLL_INTERVAL_MS
    assert tasks.polls[-1]["status"] == "completed" and tasks.polls[-1]["resultType"] == "complete"
    assert answer.model_dump() == blocking.model_dump()
    assert any(p.get("statusMessage") == "halfway there" for p in tasks.polls)  # progress, while it works


async def test_the_2025_11_25_capability_and_task_support_are_said_on_that_wire_only(toy):
    async with Client(toy.server, mode="legacy") as legacy, Client(toy.server) as modern:
        assert legacy.server_capabilities.tasks.requests.tools.call is not None
        assert legacy.server_capabilities.tasks.cancel is not None and legacy.server_capabilities.tasks.list is None
        listed = {t["name"]: t for t in (await raw(legacy, "tools/list", {}))["tools"]}
        assert listed["work"]["execution"] == {"taskSupport": "optional"} and "execution" not in listed["quick"]
        assert modern.server_capabilities.tasks is None  # the 2026 wire has the extension instead
        assert "io.modelcontextprotocol/tasks" in modern.server_capabilities.extensions


async def test_a_2025_11_25_task_is_polled_and_its_result_blocks_until_the_answer(toy):
    async with Client(toy.server, mode="legacy") as client:
        created = await call_as_task(client, "work", {"seconds": 0.5}, ttl=90_000)
        task = created["task"]
        assert task["status"] == "working" and task["ttl"] == 90_000 and task["pollInterval"] > 0
        assert "tasks/get" in created["_meta"]["io.modelcontextprotocol/model-immediate-response"]
        assert (await get(client.session, task["taskId"]))["status"] == "working"
        answer = await result(client.session, task["taskId"])
        assert answer["content"][0]["text"] == "worked 0.5 s" and answer["isError"] is False
        assert answer["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
        done = await get(client.session, task["taskId"])
        assert done["status"] == "completed" and done["statusMessage"] == "halfway there"


async def test_task_ids_are_random_bearer_handles(toy):
    async with Client(toy.server, mode="legacy") as client:
        ids = [(await call_as_task(client, "work", {"seconds": 0}))["task"]["taskId"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) >= 32 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


async def test_an_unknown_task_is_invalid_params_and_undeclared_clients_are_refused(toy, era):
    async with Client(toy.server, mode=era) as client:
        with pytest.raises(MCPError) as unknown:
            await raw(client, "tasks/get", {"taskId": "no-such-task"})
        if era == "legacy":
            assert unknown.value.code == -32602 and "no such task" in unknown.value.error.message
            with pytest.raises(MCPError) as update:
                await raw(client, "tasks/update", {"taskId": "x", "inputResponses": {}})
            assert update.value.code == -32601  # a 2026-07-28 method
        else:  # this client did not declare the extension
            assert unknown.value.code == -32021
            assert unknown.value.error.data["requiredCapabilities"]["extensions"] == {
                "io.modelcontextprotocol/tasks": {}}
    async with Client(toy.server, extensions=[TasksClient()]) as declaring:
        with pytest.raises(MCPError) as unknown:
            await get(declaring.session, "no-such-task")
        assert unknown.value.code == -32602
        with pytest.raises(MCPError) as removed:
            await result(declaring.session, "no-such-task")
        assert removed.value.code == -32601  # no tasks/result in 2026-07-28


async def test_cancel_stops_the_call_before_it_answers_in_2025_11_25(toy):
    async with Client(toy.server, mode="legacy") as client:
        task_id = (await call_as_task(client, "work", {"seconds": 60}))["task"]["taskId"]
        await until(client.session, task_id, lambda t: t.get("statusMessage") == "halfway there")
        cancelled = await cancel(client.session, task_id)
        assert cancelled["status"] == "cancelled" and toy.stopped == [60.0]  # stopped before the answer
        with pytest.raises(MCPError) as again:
            await cancel(client.session, task_id)
        assert again.value.code == -32602 and "already ended" in again.value.error.message
        answer = await result(client.session, task_id)
        assert answer["isError"] is True and "cancelled" in answer["content"][0]["text"]


async def test_cancel_stops_the_call_before_it_acknowledges_in_2026_07_28(toy):
    tasks = TasksClient()
    async with Client(toy.server, extensions=[tasks]) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "work", {"seconds": 60})
            with anyio.fail_after(10):
                while not tasks.created:  # noqa: ASYNC110 (the client extension's list)
                    await anyio.sleep(0.05)
            task_id = tasks.created[0].task_id
            group.cancel_scope.cancel()  # the caller stops polling; the task goes on
        assert (await get(client.session, task_id))["status"] == "working"
        ack = await cancel(client.session, task_id)
        assert ack == {"resultType": "complete", "_meta": ack["_meta"]} and toy.stopped == [60.0]
        assert (await get(client.session, task_id))["status"] == "cancelled"
        assert (await cancel(client.session, task_id))["resultType"] == "complete"  # an ended task: still an ack


async def test_a_tool_error_completes_in_2026_and_fails_in_2025(toy):
    tasks = TasksClient()
    async with Client(toy.server, extensions=[tasks]) as modern:
        answer = await modern.call_tool("work", {"seconds": 0, "fail": True})
    assert answer.is_error and tasks.polls[-1]["status"] == "completed"
    async with Client(toy.server, mode="legacy") as legacy:
        task_id = (await call_as_task(legacy, "work", {"seconds": 0, "fail": True}))["task"]["taskId"]
        answer = await result(legacy.session, task_id)
        assert answer["isError"] is True and (await get(legacy.session, task_id))["status"] == "failed"


async def test_a_protocol_error_fails_the_task_with_that_error(toy):
    async with Client(toy.server, mode="legacy") as legacy:
        task_id = (await call_as_task(legacy, "work", {"seconds": 0, "broken": True}))["task"]["taskId"]
        with pytest.raises(MCPError) as raised:
            await result(legacy.session, task_id)
        assert raised.value.code == -32603 and raised.value.error.message == "the work broke"
    async with Client(toy.server, extensions=[TasksClient()]) as modern:
        created = await modern.session.call_tool("work", {"seconds": 0, "broken": True}, allow_claimed=True)
        failed = await until(modern.session, created.task_id, lambda t: t["status"] != "working")
        assert failed["status"] == "failed" and failed["error"]["code"] == -32603 and "result" not in failed


async def test_a_call_that_ends_within_its_grace_answers_plainly_and_a_slow_one_becomes_a_task(toy):
    tasks = TasksClient()
    async with Client(toy.server, extensions=[tasks]) as client:
        fast = await client.call_tool("work", {"seconds": 0.1, "grace": 5})
        assert fast.content[0].text == "worked 0.1 s" and not tasks.created and not toy.ext.tasks
        slow = await client.call_tool("work", {"seconds": 1.5, "grace": 0.3})
        assert slow.content[0].text == "worked 1.5 s" and len(tasks.created) == 1


async def test_a_client_that_gives_up_during_the_grace_stops_the_work(toy):
    async with Client(toy.server, extensions=[TasksClient()]) as client:
        with anyio.move_on_after(0.5):
            await client.call_tool("work", {"seconds": 60, "grace": 30})
        with anyio.fail_after(10):
            while not toy.stopped:  # noqa: ASYNC110 (the tool's own record)
                await anyio.sleep(0.05)
    assert toy.stopped == [60.0]


async def test_a_task_is_forgotten_after_its_ttl_once_it_ended(toy, monkeypatch):
    monkeypatch.setattr(tasks_module, "KEEP_AFTER_END_MS", 0)
    async with Client(toy.server, mode="legacy") as client:
        task_id = (await call_as_task(client, "work", {"seconds": 0}, ttl=300))["task"]["taskId"]
        await result(client.session, task_id)
        assert (await get(client.session, task_id))["status"] == "completed"  # within its TTL
        await anyio.sleep(0.4)
        with pytest.raises(MCPError) as gone:
            await get(client.session, task_id)
        assert gone.value.code == -32602 and "expired" in gone.value.error.message


async def test_a_tool_that_does_not_run_as_a_task_says_so(toy):
    async with Client(toy.server, mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await call_as_task(client, "quick", {})
        assert refused.value.code == -32601 and "without 'task'" in refused.value.error.message
    tasks = TasksClient()
    async with Client(toy.server, extensions=[tasks]) as modern:  # the server decides: a plain answer
        assert (await modern.call_tool("quick", {})).content[0].text == "done" and not tasks.created
