"""A run of a flow as the run tools start it: in the call or in the server's task group, with its
options (`with_`, `environment`, tags) checked; what Metaflow does not record of it (how it ran,
what @catch kept, an error outside its tasks) goes to flowmcp's ledger. Its answer is built by
_run_answer.py."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from .. import models
from ..app import App, FlowDescription
from ..bridge.warm import decorator_reason
from ..errors import BadArgumentError, BridgeError, FlowmcpError
from ..state.steps import source_hash, step_versions
from ..summarize.text import cut_end
from ._pathspec import Pathspec
from ._progress import TaskProgress
from ._run_answer import TRANSITION_ERROR, build_result, ordered_steps, stopped

START_WAIT_S = 60  # run(wait=False): how long to wait for Metaflow to name the run
CANCEL_WAIT_S = 15  # how long a cancel waits for the run's processes to be gone

# Told of every run a call starts (server/tasks.py: a task's run is stopped as cancel_run stops
# one, so its answer says what had finished). Set in the caller's context; None: nobody asks.
RUN_STARTED: ContextVar[Callable[[RunJob], None] | None] = ContextVar("flowmcp_run_started", default=None)

MAX_TAGS = 20

LEDGER_FAILURE_CHARS = 240  # the error list_runs shows for a run that failed outside its tasks
KEPT_NOTES = ("@catch", "@retry", "… and")  # what the step hook saw, kept for run_status to say again

# `--with` decorators that send tasks elsewhere; the others (retry, catch, timeout, card, ...)
# change a local task, which stays a fork of the warm worker
COMPUTE_LAYERS = frozenset({"batch", "kubernetes", "slurm", "nvidia", "nvct", "snowpark"})


def cold_reason(desc: FlowDescription, options: dict[str, Any]) -> str | None:
    """Why a run's tasks must start as new interpreters, as Metaflow starts them, if they must:
    a compute layer (`with`), an environment Metaflow builds (`environment`, @conda, @pypi)."""
    remote = [spec for spec in options.get("with") or [] if spec.split(":")[0] in COMPUTE_LAYERS]
    if remote:
        return f"with_={remote!r}: Metaflow hands the tasks to the compute layer"
    if options.get("environment"):
        return f"environment={options['environment']!r}: Metaflow builds the steps' environment itself"
    decorators = [d for step in desc.step_names for d in desc.step(step).get("decorators", [])]
    return decorator_reason(decorators + desc.decorators)


class RunJob:
    """One run of a flow: executed in the call (wait=True) or in the server's task group."""

    def __init__(self, app: App, desc: FlowDescription, cli_parameters: dict[str, str], tags: list[str],
                 timeout_s: float | None, ctx: Context | None, options: dict[str, Any] | None = None,
                 what: str = "run"):
        self.app, self.desc, self.cli_parameters, self.tags = app, desc, cli_parameters, tags
        self.options = options or {}  # with / environment / resume: passed to the driver as they are
        self.timeout_s = timeout_s
        self.kind = what
        self.progress = TaskProgress(ctx, desc.step_names, f"{what} {desc.name}", on_run_id=self._named)
        self.versions = step_versions(desc.file)  # before the run: the code it actually runs
        self.result: models.RunResult | None = None
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()
        self.started_at = time.monotonic()
        if (tell := RUN_STARTED.get()) is not None:
            tell(self)

    @property
    def pathspec(self) -> str | None:
        return f"{self.desc.name}/{self.progress.run_id}" if self.progress.run_id else None

    def _named(self, run_id: str, pid: int | None) -> None:
        """Metaflow named the run: remember its file and the process that drives it, so every
        tool can tell this run's status and file (`flowmcp/state/ledger.py`)."""
        self.app.ledger.started(self.desc.name, run_id, file=self.desc.rel, pid=pid, kind=self.kind)

    def _versions_run(self, result: models.RunResult) -> dict[str, str]:
        """The code each step's outputs in this run came from: a step resume reused holds what the
        run it resumed made, at the version that run ran (unknown: left out)."""
        cloned = {s.step for s in result.steps if s.cloned}
        if not cloned or not result.resumed_from:
            return self.versions
        origin = Pathspec.parse(result.resumed_from.split(" ", 1)[0]).run
        before = self.app.state.run_versions(self.desc.key, origin) or {}
        versions = {step: v for step, v in self.versions.items() if step not in cloned}
        versions.update({step: before[step] for step in cloned if step in before})
        return versions

    def _record_outcome(self, result: models.RunResult) -> None:
        """What Metaflow does not record, for run_status and list_runs to say later."""
        run_id = Pathspec.parse(result.pathspec).run
        # A failure with no failed task (a rejected transition, a runtime error) is recorded nowhere else
        outside = result.failure if result.failure is not None and result.failure.task is None and \
            result.status == "failed" else None
        self.app.ledger.outcome(self.desc.name, run_id, warm=result.warm, path_note=result.path_note,
                                notes=[n for n in result.notes if n.startswith(KEPT_NOTES)],
                                failure=cut_end(outside.summary.split("\n", 1)[0], LEDGER_FAILURE_CHARS)
                                if outside else None,
                                failed_step=outside.step if outside else None)

    async def stop(self) -> None:
        """Cancel the run and wait (a bounded while) until every process it started is gone: its
        answer then says what had finished."""
        if self.result is None:
            self.scope.cancel()
            with anyio.move_on_after(CANCEL_WAIT_S):
                await self.done.wait()

    def _ended(self, status: str, message: str) -> None:
        if self.progress.run_id:
            self.app.ledger.ended(self.desc.name, self.progress.run_id, status, message)

    async def execute(self) -> models.RunResult:
        try:
            with self.scope:
                ran = await self.app.bridge.run(
                    {"flow_file": str(self.desc.file), "flow_name": self.desc.name,
                     "cli_parameters": list(self.cli_parameters.items()), "tags": self.tags, **self.options},
                    timeout=self.timeout_s, events=self.progress, flow_file=self.desc.file,
                    cold_reason=cold_reason(self.desc, self.options),
                )
                if ran.timed_out and self.pathspec:
                    self._ended("timed_out", f"stopped after {self.timeout_s:g} s (timeout_s)")
                    # The driver was killed before reading the run back: read what it left.
                    with contextlib.suppress(FlowmcpError):
                        ran.record = {"run": await self.app.bridge.run_detail(self.pathspec)}
                self.result = build_result(self.app, self.desc, ran, self.cli_parameters, self.tags, self.timeout_s)
            if self.scope.cancelled_caught:
                self.result = await self._cancelled()
                self._ended("cancelled", self.result.failure.message)
            elif self.result.pathspec:
                self._record_outcome(self.result)
                failure = self.result.failure
                why = {failure.step: "transition"} if failure and TRANSITION_ERROR in failure.summary else None
                self.app.state.record_run(self.desc.key, Pathspec.parse(self.result.pathspec).run,
                                          self._versions_run(self.result),
                                          {s.step: s.status for s in self.result.steps if not s.cloned},
                                          self.result.pathspec, why)
            if self.result.failure is not None and not self.result.steps:  # refused before any step
                self.app.state.record_refusal(self.desc.key, self.result.failure.summary.split("\n", 1)[0],
                                              source_hash(self.desc.file), self.result.pathspec)
            return self.result
        except anyio.get_cancelled_exc_class():
            # The call itself was cancelled (the client gave up, the server is stopping): the
            # bridge has stopped every process; say so wherever the run is read later.
            self._ended("cancelled", f"the call that started it was cancelled after "
                                     f"{time.monotonic() - self.started_at:.0f} s; every step process was stopped")
            raise
        finally:
            self.done.set()

    async def start_in_background(self) -> models.RunResult:
        """Start the run and answer as soon as Metaflow names it (or it ends first)."""
        self.app.task_group.start_soon(self._execute_logged)
        with anyio.move_on_after(START_WAIT_S):
            async with anyio.create_task_group() as first:
                async def started():
                    await self.progress.started.wait()
                    first.cancel_scope.cancel()

                async def ended():
                    await self.done.wait()
                    first.cancel_scope.cancel()

                first.start_soon(started)
                first.start_soon(ended)
        if self.result is not None:
            return self.result
        if self.pathspec is None:
            self.scope.cancel()
            raise BridgeError(f"{self.desc.name} did not start within {START_WAIT_S:g} s; it was stopped.")
        self.app.background[self.pathspec] = self
        return self.status()

    async def _execute_logged(self) -> None:
        try:
            await self.execute()
        except Exception as ex:  # a background job has nobody to raise to: keep it as its result
            self.result = models.RunResult(
                flow=self.desc.name, pathspec=self.pathspec, status="failed",
                failure=models.Failure(exception_type=type(ex).__name__, message=str(ex),
                                       summary=f"flowmcp could not finish the run: {type(ex).__name__}: {ex}"))

    def status(self) -> models.RunResult:
        """The final result, or where a background run is now."""
        if self.result is not None:
            return self.result
        elapsed = time.monotonic() - self.started_at
        return models.RunResult(
            flow=self.desc.name, pathspec=self.pathspec, status="running", duration_s=round(elapsed, 1),
            parameters=self.cli_parameters, tags=self.tags,
            output_tail="\n".join(self.progress.recent),
            progress=self.progress.summary(),
        )

    async def _cancelled(self) -> models.RunResult:
        """The answer to a cancel: which steps had finished before it, and which were stopped."""
        message = f"cancelled after {time.monotonic() - self.started_at:.0f} s; every step process was stopped"
        steps: list[models.StepStatus] = []
        if self.pathspec:
            with contextlib.suppress(FlowmcpError), anyio.CancelScope(shield=True):
                record = await self.app.bridge.run_detail(self.pathspec)
                steps = ordered_steps(self.desc, record.get("steps") or [])
        for s in steps:
            if s.status != "succeeded":
                s.status = "failed"  # stopped: shown as "stopped" in a cancelled run's answer
        tail = "\n".join(self.progress.recent)
        return models.RunResult(
            flow=self.desc.name, pathspec=self.pathspec, status="cancelled", parameters=self.cli_parameters,
            tags=self.tags, output_tail=tail, progress=self.progress.summary(), steps=steps, warm=None,
            failure=stopped("Cancelled", message, steps, ""),
        )


WithOption = Annotated[
    list[str],
    Field(description="Decorators for every step, run through Metaflow: e.g. [\"kubernetes:cpu=4\"], [\"batch\"]"),
]

EnvironmentOption = Annotated[
    Literal["pypi", "conda"] | None, Field(description="Metaflow's --environment for @pypi/@conda steps")
]

_DECORATOR = re.compile(r"^[A-Za-z_][\w.]*(?::[\w.=,/@+\-\[\]'\" ]*)?$")

MAX_WITH = 10

def scale_out(with_: list[str], environment: str | None) -> dict[str, Any]:
    """The driver options that send a run to Metaflow's compute layer (`--with`, `--environment`)."""
    if len(with_) > MAX_WITH:
        raise BadArgumentError(f"At most {MAX_WITH} decorators in with_; got {len(with_)}.")
    for spec in with_:
        if not _DECORATOR.match(spec) or len(spec) > 500:
            raise BadArgumentError(
                f"with_ entry {spec[:60]!r} is not a decorator spec: use name[:attr=value,...], "
                "e.g. \"kubernetes:cpu=4,memory=8000\" or \"batch\"."
            )
    return {"with": list(with_), "environment": environment}

def check_tags(tags: list[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise BadArgumentError(f"At most {MAX_TAGS} tags per run; got {len(tags)}.")
    for tag in tags:
        if not tag.strip() or "\x00" in tag or len(tag) > 500:
            raise BadArgumentError(f"Tag {tag[:40]!r} is empty, too long (500 chars max) or has NUL characters.")
