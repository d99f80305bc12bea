"""Jobs: one op of the project's side, run in the project's interpreter and followed to its end.

Each job runs `driver.py` in the project's Python, in its own session (so one kill reaches every
step process), with output streamed to a file (never to our stdout, which is the MCP channel in
stdio mode). Jobs that load a flow (spin, describe) run in a fork of a warm worker when one can
be trusted (`warm.py`), otherwise in a new interpreter; the outcome says which. The step
processes load the capture hook from `bridge/hook/`, which records live exceptions and artifact
summaries as JSON files. Only `client.py` uses this module: tools see typed records.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio

from ..errors import BridgeError, InterpreterDied
from ..state import locks
from ..state.config import Config
from ..summarize.logs import TailBuffer
from . import early
from .processes import kill_tree
from .warm import WARM_OPS, WarmPool

DRIVER = Path(__file__).with_name("driver.py")
POLL_S = 0.2  # how often a job's output file is read for progress
KEEPALIVE_S = 4.0  # a progress tick at least this often, even when the flow prints nothing
MAX_READ_BYTES = 1 << 20  # per poll: a flood of output is skipped to its last megabyte
JOBS_KEPT = 20  # finished job folders kept under .flowmcp/jobs for a person to look at
ACTIVE_LOCK = ".active"  # locked by the server whose job uses the folder


@dataclass
class JobOutcome:
    """What a driver job left: its result (or error), output tail and captured step records."""

    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    captures: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    run_id: str | None = None  # the run (or spin) Metaflow named, even when the job was killed
    degraded: dict[str, str] = field(default_factory=dict)  # features off with this Metaflow: why
    warm: bool = False  # ran in a fork of a warm worker
    path_note: str | None = None  # which path ran, and why not the warm one when it could have


class JobEvents(Protocol):
    """What a caller hears while a job runs: its process id, every output line, a regular tick."""

    async def launched(self, pid: int) -> None: ...

    async def line(self, text: str) -> None: ...

    async def tick(self, elapsed_s: float) -> None: ...

    async def status(self, text: str) -> None:
        """Something the caller should know before the job's own output starts (a worker starting)."""


class OutputWatcher:
    """Follows a job's output file (the child writes it; we only read): every new line goes to
    `on_line`, and the last lines stay in a bounded buffer whatever the output's size."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.skipped = 0
        self.new_lines: list[str] = []
        self.tail = TailBuffer(on_line=self.new_lines.append)

    def poll(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size - self.offset > MAX_READ_BYTES:
            self.skipped += size - MAX_READ_BYTES - self.offset
            self.tail.feed(b"\n")  # never join the last line seen to one from after the gap
            self.offset = size - MAX_READ_BYTES
        if size > self.offset:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                self.tail.feed(f.read(size - self.offset))
            self.offset = size
        lines, self.new_lines[:] = list(self.new_lines), []
        return lines

    def text(self) -> str:
        lines = self.tail.lines()
        if self.skipped and self.tail.total_lines > len(lines):
            lines.insert(0, f"… {self.tail.total_lines - len(lines):,}+ earlier lines not kept …")
        return "\n".join(lines)


class JobRunner:
    def __init__(self, config: Config):
        self.config = config
        self.jobs_dir = config.state_dir / "jobs"
        self._active: set[Path] = set()  # jobs still running: never pruned
        self.warm = WarmPool(config)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):  # runs while the server is being cancelled
            await self.warm.aclose()

    def job_env(self, capture_dir: Path, with_artifacts: bool) -> dict[str, str]:
        env = early.job_env(self.config)
        env["FLOWMCP_CAPTURE_DIR"] = str(capture_dir)
        env["FLOWMCP_CAPTURE_ARTIFACTS"] = "1" if with_artifacts else "0"
        return env

    async def run_job(
        self,
        op: str,
        request: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        with_artifacts: bool = False,
        events: JobEvents | None = None,
        flow_file: Path | None = None,
        cold_reason: str | None = None,
    ) -> JobOutcome:
        """Run one driver job. With `flow_file`, a spin or describe may run warm, unless
        `cold_reason` says why it must not."""
        job = self.jobs_dir / f"{op}-{uuid.uuid4().hex[:12]}"
        job.mkdir(parents=True)
        self._active.add(job)
        in_use = locks.Held(job / ACTIVE_LOCK)  # another server on this root prunes around it
        capture_dir = job / "capture"
        request = dict(request or {}, op=op, run_id_file=str(job / "run_id"))
        (job / "request.json").write_text(json.dumps(request))
        result_path = job / "result.json"
        output_path = job / "output.log"
        argv = [str(job / "request.json"), str(result_path)]
        env = self.job_env(capture_dir, with_artifacts)
        try:
            note = cold_reason
            if flow_file is not None and op in WARM_OPS and cold_reason is None:
                process, note = await self.warm.launch(flow_file, {
                    "argv": argv, "cwd": str(self.config.root), "output": str(output_path),
                    "flow_file": str(flow_file), "flow_dir": str(flow_file.parent), "job_dir": str(job),
                    "driver_op": op, "driver": str(DRIVER),
                }, env, events=events)
                if process is not None:
                    try:
                        outcome = await _finish(process, job, timeout, events, self._prune_jobs)
                    except BridgeError as ex:
                        # The warm machinery broke before the driver could report (the driver
                        # reports the user's failures): do the job again the plain way — unless
                        # Metaflow had named a run by then: a second run is never started for it
                        # (its processes were killed, by a person or the kernel: said as on the
                        # plain path).
                        if op == "run" and _run_named(job):
                            raise
                        note = f"the warm worker's job stopped without a result ({str(ex)[-200:]}); ran again cold"
                        for leftover in (output_path, job / "steps.json", job / "run_id"):
                            leftover.unlink(missing_ok=True)
                        shutil.rmtree(capture_dir, ignore_errors=True)
                    else:
                        outcome.warm, outcome.path_note = True, _step_path_note(job, note)
                        return outcome
            # Opening a local file is instant; the child writes to it, never this event loop.
            with open(output_path, "wb") as output:  # noqa: ASYNC230
                process = await anyio.open_process(
                    [self.config.python, str(DRIVER), *argv],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    cwd=str(self.config.root),
                    env=env,
                    start_new_session=True,
                )
            outcome = await _finish(process, job, timeout, events, self._prune_jobs)
            outcome.path_note = note
            return outcome
        finally:
            in_use.release()
            self._active.discard(job)

    def _prune_jobs(self) -> None:
        """Keep the newest finished job folders; never one a job still uses, this server's or
        another's on the same root (each holds a lock on its folder while it runs)."""
        try:
            done = [p for p in self.jobs_dir.iterdir() if p not in self._active]
            done.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in done[JOBS_KEPT:]:
            if not locks.held_elsewhere(old / ACTIVE_LOCK):
                shutil.rmtree(old, ignore_errors=True)


async def _finish(process, job: Path, timeout: float | None, events: JobEvents | None,
                  meanwhile: Callable[[], None]) -> JobOutcome:
    """Follow a started job to its end (or its timeout) and read what it left; `meanwhile` is done
    while it runs (housekeeping a caller would otherwise wait for)."""
    watcher = OutputWatcher(job / "output.log")
    timed_out = False
    if events is not None:
        await events.launched(process.pid)
    meanwhile()
    try:
        with anyio.move_on_after(timeout) as scope:
            await _follow(process, watcher, events)
        if scope.cancelled_caught:
            timed_out = True
            await kill_tree(process)
    except BaseException:
        # Cancelled by the client (or the server stopping): no orphans left behind.
        with anyio.CancelScope(shield=True):
            await kill_tree(process)
        raise
    watcher.poll()
    outcome = _read_outcome(job / "result.json", watcher, job / "capture", timed_out, process.returncode)
    try:
        outcome.run_id = (job / "run_id").read_text().strip() or None
    except OSError:
        pass
    return outcome


def _how_it_ended(returncode: int | None) -> str:
    if returncode is None:
        return "still running when it was read"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _run_named(job: Path) -> bool:
    try:
        return bool((job / "run_id").read_text().strip())
    except OSError:
        return False


def _step_path_note(job: Path, note: str | None) -> str | None:
    """The warm path's note, plus which step processes started as new interpreters, and why."""
    try:
        steps = json.loads((job / "steps.json").read_text())
    except (OSError, ValueError):
        return note
    spawned, forked = steps.get("spawned", 0), steps.get("forked", 0)
    if spawned:
        reasons = "; ".join(steps.get("reasons") or []) or "unknown"
        told = f"{note} " if note else ""
        if forked:
            return f"{told}{spawned} of {spawned + forked} step processes started as new interpreters: {reasons}."
        many = "es" if spawned > 1 else ""
        return f"{told}The step process{many} started as new interpreter{'s' if spawned > 1 else ''}: {reasons}."
    return note


async def _follow(process, watcher: OutputWatcher, events: JobEvents | None) -> None:
    """Wait for the job, passing its output lines on as they appear and ticking regularly."""
    started = last_tick = time.monotonic()
    while process.returncode is None:
        with anyio.move_on_after(POLL_S):
            await process.wait()
        lines = watcher.poll()
        if events is None:
            continue
        for line in lines:
            await events.line(line)
        now = time.monotonic()
        if now - last_tick >= KEEPALIVE_S:
            last_tick = now
            await events.tick(now - started)


def _read_outcome(result_path: Path, watcher: OutputWatcher, capture_dir: Path, timed_out: bool,
                  returncode: int | None) -> JobOutcome:
    output = watcher.text()
    captures = []
    if capture_dir.is_dir():
        for path in sorted(capture_dir.glob("*.json")):
            try:
                captures.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
    if timed_out:
        return JobOutcome(ok=False, output=output, captures=captures, timed_out=True,
                          error={"kind": "timeout", "message": "timed out"})
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        raise InterpreterDied(
            f"the project's interpreter died before reporting a result ({_how_it_ended(returncode)}). "
            f"Its last output:\n{output[-1500:]}"
        ) from None
    return JobOutcome(
        ok=bool(result.get("ok")),
        data=result.get("data") or {},
        error=result.get("error") or {},
        degraded=result.get("degraded") or {},
        output=output,
        captures=captures,
    )
