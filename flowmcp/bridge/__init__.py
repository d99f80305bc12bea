"""The Metaflow bridge: the only code that starts the project's interpreter.

Each job runs `driver.py` in a subprocess of the project's Python, in its own session (so one
kill reaches every step process), with output streamed to a file (never to our stdout, which
is the MCP channel in stdio mode). The step processes load the capture hook from
`bridge/hook/`, which records live exceptions and artifact summaries as JSON files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..config import Config
from ..errors import BridgeError

DRIVER = Path(__file__).with_name("driver.py")
HOOK_DIR = Path(__file__).with_name("hook")
OUTPUT_TAIL_BYTES = 256 * 1024  # of a job's combined output, what we read back
KILL_GRACE_S = 2.0
JOBS_KEPT = 20  # finished job folders kept under .flowmcp/jobs for a person to look at


@dataclass
class JobOutcome:
    """What a driver job left: its result (or error), output tail and captured step records."""

    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    output_bytes: int = 0
    captures: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False


class Bridge:
    def __init__(self, config: Config):
        self.config = config
        self.jobs_dir = config.state_dir / "jobs"
        self._active: set[Path] = set()  # jobs still running: never pruned

    def job_env(self, capture_dir: Path, with_artifacts: bool) -> dict[str, str]:
        env = self.config.child_env()
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(HOOK_DIR), env.get("PYTHONPATH", "")) if p
        )
        env["FLOWMCP_CAPTURE_DIR"] = str(capture_dir)
        env["FLOWMCP_CAPTURE_ARTIFACTS"] = "1" if with_artifacts else "0"
        return env

    async def call(
        self,
        op: str,
        request: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        with_artifacts: bool = False,
    ) -> JobOutcome:
        job = self.jobs_dir / f"{op}-{uuid.uuid4().hex[:12]}"
        job.mkdir(parents=True)
        self._active.add(job)
        capture_dir = job / "capture"
        request = dict(request or {}, op=op, run_id_file=str(job / "run_id"))
        (job / "request.json").write_text(json.dumps(request))
        result_path = job / "result.json"
        output_path = job / "output.log"
        timed_out = False
        try:
            # Opening a local file is instant; the child writes to it, never this event loop.
            with open(output_path, "wb") as output:  # noqa: ASYNC230
                process = await anyio.open_process(
                    [self.config.python, str(DRIVER), str(job / "request.json"), str(result_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    cwd=str(self.config.root),
                    env=self.job_env(capture_dir, with_artifacts),
                    start_new_session=True,
                )
                try:
                    with anyio.move_on_after(timeout) as scope:
                        await process.wait()
                    if scope.cancelled_caught:
                        timed_out = True
                        await _kill_tree(process)
                except BaseException:
                    # Cancelled by the client (or the server stopping): no orphans left behind.
                    with anyio.CancelScope(shield=True):
                        await _kill_tree(process)
                    raise
            return _read_outcome(result_path, output_path, capture_dir, timed_out)
        finally:
            self._active.discard(job)
            self._prune_jobs()

    def _prune_jobs(self) -> None:
        try:
            done = [p for p in self.jobs_dir.iterdir() if p not in self._active]
            done.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in done[JOBS_KEPT:]:
            shutil.rmtree(old, ignore_errors=True)


async def _kill_tree(process) -> None:
    """SIGTERM the job's whole process group, then SIGKILL whatever is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        with anyio.move_on_after(wait):
            await process.wait()
            # Step processes may outlive the driver for a moment; the group kill reaches them too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_outcome(result_path: Path, output_path: Path, capture_dir: Path, timed_out: bool) -> JobOutcome:
    output, size = _tail(output_path)
    captures = []
    if capture_dir.is_dir():
        for path in sorted(capture_dir.glob("*.json")):
            try:
                captures.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
    if timed_out:
        return JobOutcome(ok=False, output=output, output_bytes=size, captures=captures, timed_out=True,
                          error={"kind": "timeout", "message": "timed out"})
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        raise BridgeError(
            "The project's Python stopped before reporting a result. Its last output:\n"
            + output[-1500:]
        )
    return JobOutcome(
        ok=bool(result.get("ok")),
        data=result.get("data") or {},
        error=result.get("error") or {},
        output=output,
        output_bytes=size,
        captures=captures,
    )


def _tail(path: Path) -> tuple[str, int]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size > OUTPUT_TAIL_BYTES:
                f.seek(size - OUTPUT_TAIL_BYTES)
            data = f.read()
    except OSError:
        return "", 0
    return data.decode("utf-8", errors="replace"), size
