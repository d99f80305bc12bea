"""Start the warm worker as the server process starts, before it imports its own stack.

A server takes about half a second to import the MCP and validation libraries and answer the
client's `initialize`; a worker takes about as long to import Metaflow and a flow's libraries.
Started here, at the top of `flowmcp serve`, the two overlap, and the first spin of a session
finds its worker ready instead of starting it. The worker is the one the pool would start for
the most recently edited flow (same command, configuration and environment, `worker_spec`); the
pool adopts it (`WarmPool.adopt`) and checks it is ready before its first job, as for any other.

Only light modules are imported here (no anyio, no MCP): that is the point.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..state.catalog import FlowCatalog
from ..state.config import Config
from .imports import flow_imports

WORKER = Path(__file__).with_name("worker.py")
HOOK_DIR = Path(__file__).with_name("hook")
IDLE_S = 900.0  # a worker unused this long exits by itself (it holds the flow's libraries in memory)


@dataclass
class WorkerSpec:
    """How to start one worker: what the pool and the early start share."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: Path
    socket: Path


def worker_spec(config: Config, key: frozenset[str], env: dict[str, str], denied: dict[str, str],
                socket_dir: Path, name: str) -> WorkerSpec:
    """Write the worker's configuration file; the command, environment and files to start it with."""
    folder = config.state_dir / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = socket_dir / f"{name}.sock"
    config_path = folder / f"{name}.json"
    config_path.write_text(json.dumps({
        "socket": str(socket_path), "root": str(config.root),
        "modules": sorted(m for m in key if m.split(".")[0] not in denied), "idle_exit_s": IDLE_S,
        "deny": {module: f"not preloaded: {why}" for module, why in denied.items()},
    }))
    worker_env = {k: v for k, v in env.items() if not k.startswith("FLOWMCP_CAPTURE")}
    worker_env["FLOWMCP_WARM"] = "1"
    return WorkerSpec(argv=[config.python, str(WORKER), str(config_path)], env=worker_env, cwd=str(config.root),
                      log=folder / f"{name}.log", socket=socket_path)


def job_env(config: Config) -> dict[str, str]:
    """The environment of every job (the step hook on the path); a job adds where to capture."""
    env = config.child_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HOOK_DIR), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class EarlyWorker:
    key: frozenset[str]
    process: subprocess.Popen
    spec: WorkerSpec
    socket_dir: Path


def start(config: Config, flow: Path | None = None) -> EarlyWorker | None:
    """Start the worker of `flow`, else of the root's most recently edited flow; None when there
    is none to start."""
    if not config.warm or os.name != "posix":
        return None
    try:
        if flow is None or not flow.is_file():
            files = FlowCatalog(config.root).files()
            if not files:
                return None
            flow = max(files, key=lambda f: f.path.stat().st_mtime).path
        key = flow_imports(flow, config.root)
        socket_dir = Path(tempfile.mkdtemp(prefix="flowmcp-"))
        spec = worker_spec(config, key, job_env(config), {}, socket_dir, f"w{os.getpid()}-0")
        with open(spec.log, "wb") as out:
            process = subprocess.Popen(spec.argv, stdin=subprocess.PIPE, stdout=out, stderr=out, cwd=spec.cwd,
                                       env=spec.env, start_new_session=True)
    except Exception:  # the pool starts one when a job needs it, and says why if it cannot
        return None
    return EarlyWorker(key=key, process=process, spec=spec, socket_dir=socket_dir)


class StartedProcess:
    """A worker started with `subprocess` before the event loop ran, as the pool uses a process:
    `pid`, `returncode`, `wait()`, `aclose()` (its stdin closing tells it to leave)."""

    def __init__(self, process: subprocess.Popen):
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    async def wait(self) -> int:
        import anyio

        while self._process.poll() is None:  # noqa: ASYNC110 (a process not started by anyio: poll it)
            await anyio.sleep(0.02)
        return self._process.returncode

    async def aclose(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        await self.wait()
