"""The bridge as the tools see it: one typed method per op, flowmcp's errors, never a raw job.

Each method writes the op's request, runs the job in the project's interpreter (`jobs.py`), and
returns its record (`protocol.py`). A failure the project's side reports by kind is raised as
one of `flowmcp/errors.py`'s classes through the one table below, with the project's message; a
job that died without a result is `InterpreterDied`. Runs and spins, which execute the user's
code, return a `Ran` carrying the record with what the job left beside it (captures, output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

from ..errors import BadArgumentError, BridgeError, FlowFileError, FlowmcpError, NotFoundError, ProjectPythonError
from ..state.config import Config
from . import metaflow_compat as layout
from . import protocol as p
from .jobs import JobEvents, JobOutcome, JobRunner

# The one table from what the project's side reports to what the agent is told.
ERRORS: dict[str, type[FlowmcpError]] = {
    **dict.fromkeys(p.BAD_ARGUMENT_KINDS, BadArgumentError),
    **dict.fromkeys(p.NOT_FOUND_KINDS, NotFoundError),
    **dict.fromkeys(p.FLOW_FILE_KINDS, FlowFileError),
    p.INTERNAL: BridgeError,
}
READ_TIMEOUT_S = 300  # a read of runs, logs or an artifact; a 1 GB artifact takes seconds
DESCRIBE_TIMEOUT_S = 120
ENVIRONMENT_TIMEOUT_S = 60  # importing Metaflow and its extensions, then two remote checks of 8 s at most
PATTERN_TIMEOUT_S = 20  # get_logs with a pattern: reading the log takes well under a second

R = TypeVar("R")


@dataclass
class Ran(Generic[R]):
    """A job that ran the user's code: its record (None when it was stopped before writing one),
    and what it left beside it."""

    record: R | None
    captures: list[p.CaptureRecord] = field(default_factory=list)
    output: str = ""
    timed_out: bool = False
    run_id: str | None = None  # the run (or spin) Metaflow named, even when the job was killed
    warm: bool = False
    path_note: str | None = None


def raise_for(op: str, error: dict[str, Any]) -> NoReturn:
    """The project's reported failure as flowmcp's error: the class from the table, its message."""
    kind = error.get("kind") or p.INTERNAL
    if kind in (p.NO_METAFLOW, p.METAFLOW_VERSION):
        raise ProjectPythonError(metaflow_problem(error), detail=error)
    message = error.get("message") or f"{op} failed"
    if kind == p.INTERNAL:
        message = f"flowmcp's {op} failed in the project's interpreter: {message}"
    raise ERRORS.get(kind, BridgeError)(message, detail=error)


def metaflow_fix(python: str) -> str:
    """The commands that give `python` a Metaflow flowmcp supports."""
    return (f"`{python} -m pip install '{supported_pin()}'` (Outerbounds' platform: `{python} -m pip install -U "
            f"ob-metaflow`), or start flowmcp with --python pointing at an interpreter that has it")


def supported_pin() -> str:
    first, beyond = p.SUPPORTED_METAFLOW
    return f"metaflow>={'.'.join(map(str, first))},<{'.'.join(map(str, beyond))}"


def metaflow_problem(error: dict[str, Any]) -> str:
    """What is wrong with the project interpreter's Metaflow, and the command that fixes it."""
    python = error.get("python") or "the project's interpreter"
    wanted = supported_pin()
    fix = metaflow_fix(python)
    if error.get("kind") == p.NO_METAFLOW:
        return f"The project's interpreter {python} has no Metaflow. Install it there: {fix}."
    return (f"The project's interpreter {python} has Metaflow {error.get('version')} ({error.get('where')}); "
            f"flowmcp works with {wanted[len('metaflow'):]}. Install a supported release there: {fix}.")


class Bridge:
    def __init__(self, config: Config):
        self.config = config
        self.jobs = JobRunner(config)
        self.warm = self.jobs.warm
        self.degraded: dict[str, str] = {}  # feature -> note, for features off with this Metaflow
        self._told: set[str] = set()

    def untold_notes(self) -> list[str]:
        """What this Metaflow makes flowmcp do without, each said once per server."""
        notes = [note for feature, note in sorted(self.degraded.items()) if feature not in self._told]
        self._told.update(self.degraded)
        return notes

    async def _job(self, op: str, request: dict[str, Any], **job: Any) -> JobOutcome:
        outcome = await self.jobs.run_job(op, request, **job)
        self.degraded.update(outcome.degraded)
        return outcome

    async def aclose(self) -> None:
        await self.jobs.aclose()

    # ---- reads: a record, or one of flowmcp's errors

    async def _read(self, op: str, request: dict[str, Any], timeout: float = READ_TIMEOUT_S, **job: Any) -> Any:
        outcome = await self._job(op, request, timeout=timeout, **job)
        if outcome.timed_out:
            raise BridgeError(f"reading {op} took longer than {timeout:g} s and was stopped")
        if not outcome.ok:
            raise_for(op, outcome.error)
        return outcome.data

    async def describe(self, flow_file: Path) -> p.FlowRecord:
        return await self._read(p.DESCRIBE, {"flow_file": str(flow_file)}, DESCRIBE_TIMEOUT_S, flow_file=flow_file)

    async def runs(self, flow_name: str, *, status: str = "any", limit: int = 10, cursor: str | None = None,
                   include_spins: bool = False, identity: p.Identity | None = None) -> p.RunsPage:
        return await self._read(p.RUNS, {"flow_name": flow_name, "status": status, "limit": limit, "cursor": cursor,
                                         "include_spins": include_spins, "identity": identity})

    async def flows(self, flow_files: list[dict[str, Any]]) -> p.FlowsRecord:
        return await self._read(p.FLOWS, {"flow_files": flow_files})

    async def run_detail(self, pathspec: str) -> p.RunRecord:
        return await self._read(p.RUN_DETAIL, {"pathspec": pathspec})

    async def inspect(self, pathspec: str, name: str, path: str, *, spin: bool, max_chars: int,
                      as_image: bool = False, split: str | int | None = None) -> p.ArtifactRecord:
        return await self._read(p.INSPECT, {"pathspec": pathspec, "name": name, "path": path, "spin": spin,
                                            "max_chars": max_chars, "as_image": as_image, "split": split})

    async def logs(self, pathspec: str, stream: str, *, spin: bool, head: int | None = None,
                   tail: int | None = None, pattern: str | None = None, full: bool = False,
                   split: str | int | None = None) -> p.LogRecord:
        request = {"pathspec": pathspec, "stream": stream, "spin": spin, "head": head, "tail": tail,
                   "pattern": pattern, "full": full, "split": split}
        if not pattern:
            return await self._read(p.LOGS, request)
        # A regular expression can take exponential time ((a+)+ on a long line): the job that
        # matches it is stopped after a short deadline, and the server goes on serving
        outcome = await self._job(p.LOGS, request, timeout=PATTERN_TIMEOUT_S)
        if outcome.timed_out:
            raise BadArgumentError(
                f"pattern {pattern[:80]!r} took longer than {PATTERN_TIMEOUT_S:g} s to match {pathspec}'s "
                f"{stream} and was stopped; nested repetition like (a+)+ can take exponential time: use a simpler "
                "pattern, or a plain substring")
        if not outcome.ok:
            raise_for(p.LOGS, outcome.error)
        return outcome.data

    async def cards(self, pathspec: str, *, spin: bool, index: int | None = None,
                    listing: bool = False) -> p.CardsRecord:
        """A task's cards described (no index), one card's HTML (index), or both (index, listing:
        `html` is None when the task has no card of that index)."""
        return await self._read(p.CARDS, {"pathspec": pathspec, "spin": spin, "index": index, "listing": listing})

    async def artifact_value(self, pathspec: str, name: str, *, spin: bool) -> p.ValueRecord:
        return await self._read(p.ARTIFACT_VALUE, {"pathspec": pathspec, "name": name, "spin": spin})

    async def environment(self, *, probe: bool = True) -> p.EnvironmentRecord:
        """The interpreter, its Metaflow and the active profile's stores (tried when `probe`)."""
        return await self._read(p.ENVIRONMENT, {"probe": probe}, ENVIRONMENT_TIMEOUT_S)

    # ---- running the user's code: the record and what the job left

    async def run(self, request: dict[str, Any], *, timeout: float | None, events: JobEvents | None,
                  flow_file: Path | None = None, cold_reason: str | None = None) -> Ran[p.RunOutcome]:
        """A run (or a resume): with `flow_file`, its tasks are forks of the warm worker unless
        `cold_reason` says why they must be new interpreters."""
        outcome = await self._job(p.RUN, request, timeout=timeout, with_artifacts=True, events=events,
                                  flow_file=flow_file, cold_reason=cold_reason)
        return _ran(p.RUN, outcome)

    async def spin(self, request: dict[str, Any], *, timeout: float | None, events: JobEvents | None,
                   flow_file: Path, cold_reason: str | None) -> Ran[p.SpinOutcome]:
        outcome = await self._job(p.SPIN, request, timeout=timeout, with_artifacts=True, events=events,
                                  flow_file=flow_file, cold_reason=cold_reason)
        return _ran(p.SPIN, outcome)

    async def warm_up(self, flow_file: Path) -> None:
        """Start the warm worker this flow's jobs would use, ahead of the first one."""
        await self.jobs.warm.prewarm(flow_file, self.jobs.job_env(self.jobs.jobs_dir / "prewarm", with_artifacts=False))

    async def warm_check(self) -> tuple[str | None, dict[str, Any]]:
        """(why warm jobs cannot run here, or None; the ready worker's status): starts the worker
        a flow with no imports of its own would use, as its first spin would."""
        env = self.jobs.job_env(self.jobs.jobs_dir / "prewarm", with_artifacts=False)
        return await self.jobs.warm.check(env)

    # ---- where things are (tools never read Metaflow's folders themselves)

    def is_spin(self, flow_name: str, run_id: str) -> bool:
        return layout.is_spin_run(flow_name, run_id, str(self.config.root))

    def has_runs(self, flow_name: str) -> bool:
        return layout.has_local_runs(flow_name, str(self.config.root))


def _ran(op: str, outcome: JobOutcome) -> Ran[Any]:
    if not outcome.ok and not outcome.timed_out:
        raise_for(op, outcome.error)
    return Ran(record=outcome.data if outcome.ok else None, captures=outcome.captures, output=outcome.output,
               timed_out=outcome.timed_out, run_id=outcome.run_id, warm=outcome.warm, path_note=outcome.path_note)
