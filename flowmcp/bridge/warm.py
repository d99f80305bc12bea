"""Warm workers: the fast path for spin and describe.

A worker (`worker.py`) is a long-lived process of the project's interpreter holding Metaflow and a
flow's third-party libraries imported; it forks a child per job instead of starting Python twice.
There is one worker per set of imports (per root and interpreter, as the bridge is), so a worker
never holds a library the flow being run does not import. A worker is replaced when packages are
installed or removed, or the Metaflow config changes, since its imports would then be stale.

Every reason not to use the warm path is a plain string that ends up in the answer, and the job
then runs the plain way (`python driver.py ...`): the warm path is a speed-up, never a requirement.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteStream, Process

from ..state.config import Config
from .early import EarlyWorker, StartedProcess, worker_spec
from .imports import flow_imports
from .processes import kill_tree, pid_exists

WARM_OPS = {"describe", "spin", "run"}  # the jobs that load a flow file (run: resume too); the rest read runs
MAX_WORKERS = 3  # flows with different imports, each kept warm; the least recently used goes first
READY_TIMEOUT_S = 300.0  # a cold import of a big library set on a slow disk
SOCKET_WAIT_S = 30.0
WORKER_FILES_KEPT = 10  # worker configs and logs kept under .flowmcp/workers
# What talking to a worker can raise: it went away, it is stuck, or it answered nonsense.
TALK_ERRORS = (OSError, anyio.EndOfStream, anyio.BrokenResourceError, TimeoutError, ValueError)
STEP_DECORATORS_NEEDING_SUBPROCESS = {"conda", "pypi", "conda_base", "pypi_base"}


class WarmUnavailable(Exception):
    """The warm path cannot take this job; the message says why, for the answer."""


def unavailable_reason(config: Config) -> str | None:
    """Why this server never uses warm workers, or None."""
    if not config.warm:
        return "warm workers are off (--no-warm)"
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        # macOS forks break system frameworks some libraries load; Windows has no fork at all.
        return f"warm workers need fork on Linux; this is {sys.platform}"
    return None


def decorator_reason(decorators: list[str]) -> str | None:
    """Steps whose environment Metaflow builds itself (@conda, @pypi) run in another interpreter."""
    needing = sorted(set(decorators) & STEP_DECORATORS_NEEDING_SUBPROCESS)
    if needing:
        return f"@{needing[0]} steps run in their own environment"
    return None


@dataclass
class WorkerProcess:
    """One live worker: its process, socket and what it reported when ready."""

    key: frozenset[str]
    process: Process
    socket: Path
    log: Path
    status: dict[str, Any] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)
    busy: int = 0
    told: bool = False  # whether an answer has said what this worker leaves unloaded
    started_at: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.process.returncode is None

    def changed(self) -> str | None:
        """What changed under the worker since it imported its modules, or None."""
        for path, mtime in (self.status.get("fingerprint") or {}).items():
            try:
                now = os.stat(path).st_mtime_ns
            except OSError:
                now = None
            if now != mtime:
                return f"{path} changed"
        return None

    async def stop(self) -> None:
        """Stop the worker (its running jobs are sessions of their own and finish undisturbed)."""
        with anyio.CancelScope(shield=True):
            if self.process.returncode is None:
                await kill_tree(self.process)
            await self.process.aclose()


class WarmJob:
    """A job child of a worker, followed as the bridge follows a process: `pid` (the leader of the
    job's own session, so a group kill reaches the step process too), `returncode`, `wait()`."""

    def __init__(self, stream: ByteStream, pid: int, worker: WorkerProcess, received: bytes = b""):
        self.stream = stream
        self.pid = pid
        self.returncode: int | None = None
        self._worker = worker
        self._buffer = received  # what arrived with the reply that named the pid

    async def wait(self) -> int:
        while self.returncode is None:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                self.returncode = int(json.loads(line).get("exit", 1))
                break
            try:
                chunk = await self.stream.receive()  # cancel-safe: nothing is lost if cancelled
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                # The worker went away; the job child lives on alone until it finishes.
                while pid_exists(self.pid):  # noqa: ASYNC110 (another process's life: nothing to await)
                    await anyio.sleep(0.05)
                self.returncode = -1
                break
            self._buffer += chunk
        await self.close()
        return self.returncode

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.busy -= 1
            self._worker.last_used = time.monotonic()
            self._worker = None
            with anyio.CancelScope(shield=True):
                await self.stream.aclose()


MAX_IMPORTS_NAMED = 4


def _starting_note(key: frozenset[str], before: frozenset[str] | None) -> str:
    """Why a job waits for a new worker: the first for these imports, or the flow's new imports."""
    added = sorted({name.split(".")[0] for name in key} - {name.split(".")[0] for name in before or ()})
    if before is not None and added:
        named = ", ".join(added[:MAX_IMPORTS_NAMED]) + (" …" if len(added) > MAX_IMPORTS_NAMED else "")
        return f"started a new warm worker: the flow now imports {named}"
    return "started a warm worker with this flow's imports"


class WarmPool:
    """The workers of one bridge (one root, one interpreter), started on demand."""

    def __init__(self, config: Config):
        self.config = config
        self.off = unavailable_reason(config)
        self.workers: dict[frozenset[str], WorkerProcess] = {}
        self._locks: dict[frozenset[str], anyio.Lock] = {}
        self._socket_dir: Path | None = None
        self._count = 0
        # Libraries that made a worker unsafe to fork: later workers leave them to each job.
        self.denied: dict[str, str] = {}
        self.last_key: dict[Path, frozenset[str]] = {}  # per flow file: the imports its last job had

    async def launch(self, flow_file: Path, job: dict[str, Any], env: dict[str, str],
                     events: Any = None) -> tuple[WarmJob | None, str | None]:
        """Start `job` in a warm worker: (the job, a note worth telling or None), or (None, why not).
        When the job must wait for a new worker (the first, or the flow's imports changed), the
        answer and `events` (progress) say so: that spin is slow once, not every time."""
        if self.off:
            return None, self.off
        key = flow_imports(flow_file, self.config.root)
        before = self.last_key.get(flow_file)
        self.last_key[flow_file] = key
        starting = None
        if key not in self.workers:
            starting = _starting_note(key, before)
            if events is not None:
                await events.status(f"{starting[0].upper()}{starting[1:]}…")
        started = time.monotonic()
        try:
            worker, note = await self._worker_for(key, env)
            if starting is not None and worker.started_at >= started:
                waited = f"{starting[0].upper()}{starting[1:]} ({time.monotonic() - started:.1f} s, once: " \
                         "later spins and runs of it reuse it)."
                note = " ".join(filter(None, [note, waited]))
            stream = await anyio.connect_unix(str(worker.socket))
        except (WarmUnavailable, OSError) as ex:
            return None, f"warm worker unavailable: {ex}"
        try:
            await stream.send(json.dumps({"op": "job", **job, "env": env}).encode() + b"\n")
            reply, rest = await _read_line(stream, timeout=30)
        except TALK_ERRORS as ex:
            await stream.aclose()
            return None, f"warm worker unavailable: {type(ex).__name__}"
        if not reply.get("ok"):
            await stream.aclose()
            status = await self._status(worker)
            if status.get("hazard"):
                self._deny(status)
                await self._retire(worker)
            elif "environment" in str(reply.get("refused")):
                await self._retire(worker)
            return None, str(reply.get("refused") or "the warm worker refused the job")
        unloaded = sorted(name for name in self.denied if any(m.split(".")[0] == name for m in key))
        if unloaded and not worker.told:  # said once per worker, not in every answer
            told = "; ".join(f"{name} ({self.denied[name]})" for name in unloaded)
            note = " ".join(filter(None, [note, f"Imported fresh in each job, not preloaded: {told}."]))
            worker.told = True
        worker.busy += 1
        return WarmJob(stream, int(reply["pid"]), worker, rest), note

    async def prewarm(self, flow_file: Path, env: dict[str, str]) -> None:
        """Start the worker `flow_file`'s jobs would use (a job arriving meanwhile waits for it)."""
        if self.off:
            return
        try:
            await self._worker_for(flow_imports(flow_file, self.config.root), env)
        except (WarmUnavailable, OSError):
            pass  # the first job tries again, and says why not

    async def check(self, env: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
        """(why not, or None; the status of a ready worker holding Metaflow alone)."""
        if self.off:
            return self.off, {}
        try:
            worker, _ = await self._worker_for(frozenset(), env)
        except (WarmUnavailable, OSError) as ex:
            return f"the worker did not start: {ex}", {}
        return self.off, worker.status

    async def _worker_for(self, key: frozenset[str], env: dict[str, str]) -> tuple[WorkerProcess, str | None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            worker = self.workers.get(key)
            note = None
            if worker is not None and not worker.alive():
                code = worker.process.returncode
                if code != 0:  # 0: it left after IDLE_S unused, as it should
                    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    note = f"Warm worker restarted: the previous one {how}."
                await self._retire(worker)
                worker = None
            if worker is not None and (changed := worker.changed()):
                note = f"Warm worker restarted: {changed} (installed packages or Metaflow's config)."
                await self._retire(worker)
                worker = None
            if worker is not None and not worker.status:  # adopted, not yet asked whether it is ready
                try:
                    worker.status = await self._ready(worker)
                except WarmUnavailable:
                    await self._retire(worker)
                    worker = None
            if worker is None:
                await self._evict()
                worker = await self._start(key, env)
                self.workers[key] = worker
            if worker.status.get("unsupported"):
                self.off = f"warm workers are off: {worker.status['unsupported']}"  # for every later job too
                await self._retire(worker)
                raise WarmUnavailable(worker.status["unsupported"])
            if worker.status.get("hazard"):
                self._deny(worker.status)
                await self._retire(worker)
                raise WarmUnavailable(f"forking is not safe: {worker.status['hazard']}")
            return worker, note

    def _deny(self, status: dict[str, Any]) -> None:
        module, hazard = status.get("hazard_module"), status.get("hazard") or ""
        if module:
            self.denied[module] = hazard.split(", ", 1)[-1]

    async def _status(self, worker: WorkerProcess) -> dict[str, Any]:
        """The worker's state now (its preloads grow as jobs teach it), or {} if it cannot say."""
        try:
            return await _ask_status(worker, timeout=10)
        except TALK_ERRORS:
            return {}

    async def _start(self, key: frozenset[str], env: dict[str, str]) -> WorkerProcess:
        if self._socket_dir is None:
            # Unix socket paths are short (108 bytes): not under the project root.
            self._socket_dir = Path(tempfile.mkdtemp(prefix="flowmcp-"))
        self._count += 1
        self._prune_files(self.config.state_dir / "workers")
        spec = worker_spec(self.config, key, env, self.denied, self._socket_dir, f"w{os.getpid()}-{self._count}")
        # Not a child task of any tool call: it outlives the call that started it.
        with open(spec.log, "wb") as out:  # noqa: ASYNC230 (a local file, opened once)
            process = await anyio.open_process(
                spec.argv,
                stdin=subprocess.PIPE,  # its end closing (we stopped) tells the worker to leave
                stdout=out,
                stderr=out,
                cwd=spec.cwd,
                env=spec.env,
                start_new_session=True,
            )
        worker = WorkerProcess(key=key, process=process, socket=spec.socket, log=spec.log)
        try:
            worker.status = await self._ready(worker)
        except BaseException:
            await worker.stop()
            raise
        return worker

    def adopt(self, early: EarlyWorker) -> None:
        """Take the worker the server started as it started (bridge/early.py); its readiness is
        checked before its first job, as for a worker the pool starts."""
        if self.off:
            early.process.kill()
            shutil.rmtree(early.socket_dir, ignore_errors=True)
            return
        self.workers[early.key] = WorkerProcess(key=early.key, process=StartedProcess(early.process),
                                                socket=early.spec.socket, log=early.spec.log)
        self._socket_dir = self._socket_dir or early.socket_dir  # later workers share it; aclose removes it

    def _prune_files(self, folder: Path) -> None:
        """Keep the config and log of the newest workers (and of every live one) for a person."""
        live = {w.log.stem for w in self.workers.values()}
        try:
            logs = sorted(folder.glob("w*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in logs[WORKER_FILES_KEPT:]:
            if old.stem not in live:
                old.unlink(missing_ok=True)
                old.with_suffix(".json").unlink(missing_ok=True)

    async def _ready(self, worker: WorkerProcess) -> dict[str, Any]:
        with anyio.move_on_after(SOCKET_WAIT_S):
            while not worker.socket.exists() and worker.alive():  # noqa: ASYNC110 (a file appearing)
                await anyio.sleep(0.005)
        if not worker.alive() or not worker.socket.exists():
            raise WarmUnavailable(f"the worker did not start: {_tail(worker.log)}")
        try:
            return await _ask_status(worker, timeout=READY_TIMEOUT_S)  # answered once it has imported
        except TALK_ERRORS as ex:
            raise WarmUnavailable(f"the worker did not get ready ({type(ex).__name__}): {_tail(worker.log)}") from None

    async def _evict(self) -> None:
        for worker in list(self.workers.values()):
            if not worker.alive():
                await self._retire(worker)
        idle = sorted((w for w in self.workers.values() if w.busy == 0), key=lambda w: w.last_used)
        while len(self.workers) >= MAX_WORKERS and idle:
            await self._retire(idle.pop(0))

    async def _retire(self, worker: WorkerProcess) -> None:
        if self.workers.get(worker.key) is worker:
            del self.workers[worker.key]
        await worker.stop()

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            await self._retire(worker)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


async def _ask_status(worker: WorkerProcess, timeout: float) -> dict[str, Any]:
    async with await anyio.connect_unix(str(worker.socket)) as stream:
        await stream.send(b'{"op": "status"}\n')
        return (await _read_line(stream, timeout=timeout))[0]


async def _read_line(stream: ByteStream, timeout: float) -> tuple[dict[str, Any], bytes]:
    buffer = b""
    with anyio.fail_after(timeout):
        while b"\n" not in buffer:
            buffer += await stream.receive()
    line, rest = buffer.split(b"\n", 1)
    return json.loads(line), rest


def _tail(log: Path, chars: int = 600) -> str:
    try:
        return log.read_text(errors="replace")[-chars:].strip() or "(no output)"
    except OSError:
        return "(no log)"
