"""MCP progress for long tool calls: a notification when each task starts and ends, and a tick
at least every few seconds while the flow is silent, so clients see the call is alive."""

from __future__ import annotations

from collections import deque

import anyio
from mcp.server.mcpserver import Context

from ..summarize import logs

STARTED = "Task is starting."
FINISHED = "Task finished successfully."
FAILED = "Task failed."
RECENT_LINES = 10  # the output lines run_status shows for a run still going


class TaskProgress:
    """Turns a job's output lines into progress: `progress` counts finished tasks; the message
    names the step, and how many of the flow's steps are done."""

    def __init__(self, ctx: Context | None, steps: list[str], what: str, on_run_id=None):
        self.ctx = ctx  # None: track only (a background run outlives the call that started it)
        self.on_run_id = on_run_id  # called once with (run_id, pid) when Metaflow names the run
        self.pid: int | None = None  # the job's process: it lives as long as the run
        self.steps = steps
        self.what = what
        self.running: dict[str, str] = {}  # task pathspec -> step
        self.finished = 0
        self.steps_done: set[str] = set()
        self.run_id: str | None = None
        self.started = anyio.Event()  # set when the run id is known
        self.recent: deque[str] = deque(maxlen=RECENT_LINES)

    async def line(self, text: str) -> None:
        task, message = logs.parse_prefix(text)
        if message.strip() and logs.drop_noise([message]):
            self.recent.append(logs.strip_prefix(text))
        if task is None or task.count("/") != 2:
            return
        if self.run_id is None:
            self.run_id = task.split("/")[0]
            if self.on_run_id is not None:
                self.on_run_id(self.run_id, self.pid)
            self.started.set()
        step = task.split("/")[1]
        if message == STARTED:
            self.running[task] = step
            await self._report(f"{step} started (task {task})")
        elif message in (FINISHED, FAILED):
            self.running.pop(task, None)
            self.finished += 1
            if message == FINISHED and step not in self.running.values():
                self.steps_done.add(step)
            outcome = "finished" if message == FINISHED else "FAILED"
            await self._report(f"{step} {outcome} (task {task})")

    async def launched(self, pid: int) -> None:
        self.pid = pid

    async def status(self, text: str) -> None:
        await self._report(text)

    async def tick(self, elapsed_s: float) -> None:
        busy = sorted(set(self.running.values()))
        doing = f"running {', '.join(busy)}" if busy else "working"
        await self._report(f"{self.what}: {doing}, {elapsed_s:.0f} s so far")

    def summary(self) -> str:
        busy = ", ".join(sorted(set(self.running.values()))) or "nothing"
        return f"{len(self.steps_done)}/{len(self.steps)} steps done, {self.finished} tasks finished; running: {busy}"

    async def _report(self, message: str) -> None:
        if self.ctx is None:
            return
        steps = f"{len(self.steps_done)}/{len(self.steps)} steps done" if self.steps else ""
        await self.ctx.report_progress(self.finished, None, f"{message}; {steps}" if steps else message)
