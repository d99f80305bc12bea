"""The server's state shared by the tools: config, bridge, and what we know of each flow file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from . import models
from .bridge import capture
from .bridge.client import Bridge
from .bridge.housekeeping import prune_client_cache, prune_spins
from .catalog import FlowCatalog
from .config import Config
from .errors import BridgeError, FlowFileError, InterpreterDied
from .ledger import RunLedger
from .state import ProjectState
from .summarize import failure as failure_summary

log = logging.getLogger("flowmcp")


@dataclass
class FlowDescription:
    file: Path
    name: str
    parameters: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    decorators: list[str] = field(default_factory=list)  # the flow's own (@conda_base, @project...)
    rel: str = ""  # the file, relative to the root: with the class name, the flow's identity
    configs: list[dict[str, Any]] = field(default_factory=list)
    cli_error: dict[str, Any] | None = None  # Metaflow refused to start the flow's CLI: why

    @property
    def step_names(self) -> list[str]:
        return [s["name"] for s in self.steps]

    @property
    def key(self) -> str:
        """The flow's identity: its file and its class. Two files may define the same class, and
        Metaflow then keeps their runs in one history; flowmcp never mixes them up."""
        return f"{self.rel}:{self.name}"


@dataclass
class App:
    config: Config
    bridge: Bridge = field(init=False)
    state: ProjectState = field(init=False)
    _described: dict[Path, tuple[tuple[int, int], FlowDescription]] = field(default_factory=dict)
    task_group: Any = None  # set by the server's lifespan: where background runs live
    background: dict[str, Any] = field(default_factory=dict)  # pathspec -> BackgroundRun
    _pruning: dict[str, bool] = field(default_factory=dict)  # flow -> another pass wanted
    _told: set[str] = field(default_factory=set)  # notes said once per server

    def __post_init__(self) -> None:
        self.bridge = Bridge(self.config)
        self.state = ProjectState(self.config.state_dir / "state.json")
        self.catalog = FlowCatalog(self.config.root)
        self.ledger = RunLedger(self.config.state_dir)

    @classmethod
    def create(cls, root: str | None = None, python: str | None = None, **options: Any) -> App:
        return cls(Config.create(root, python, **options))

    def flow_path(self, flow: str) -> Path:
        path = self.config.resolve(flow, what="flow file")
        if not path.exists():
            near = sorted(p.name for p in path.parent.glob("*.py")) if path.parent.is_dir() else []
            hint = f" Python files there: {', '.join(near[:10])}." if near else ""
            raise FlowFileError(f"Flow file {flow!r} does not exist under {self.config.root}.{hint}")
        if path.is_dir():
            raise FlowFileError(f"{flow!r} is a directory; pass the flow's .py file.")
        if path.suffix != ".py":
            raise FlowFileError(f"{flow!r} is not a Python file; pass the flow's .py file.")
        return path

    async def describe(self, flow: str) -> FlowDescription:
        """Name, parameters and graph of a flow file, re-read only when the file changes."""
        path = self.flow_path(flow)
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._described.get(path)
        if cached and cached[0] == key:
            return cached[1]
        self._check_syntax(path)
        try:
            data = await self.bridge.describe(path)
        except FlowFileError as ex:
            raise self._describe_error(ex, path) from None
        except BridgeError as ex:
            if isinstance(ex, InterpreterDied):
                raise
            raise FlowFileError(f"{self.config.relative(path)} cannot be loaded: {ex}. Is Metaflow installed for "
                                f"{self.config.python}?") from None
        desc = FlowDescription(file=path, name=data["flow_name"], parameters=data["parameters"],
                               steps=data["steps"], decorators=data.get("flow_decorators", []),
                               rel=self.config.relative(path), configs=data.get("configs") or [],
                               cli_error=data.get("cli_error"))
        self._described[path] = (key, desc)
        return desc

    def check_runnable(self, desc: FlowDescription) -> None:
        """A file that never starts its flow (`python file.py` does nothing) cannot be run or spun."""
        error = desc.cli_error or {}
        if error.get("type") == "NotStarted":
            raise FlowFileError(f"{error['message']}. Pass the file that starts the flow (a module of base "
                                "classes is imported by it, not run).")

    async def flow_files(self) -> list[Path]:
        """The root's flow files (a cheap text check, no import), read off the event loop."""
        return [f.path for f in await anyio.to_thread.run_sync(self.catalog.files)]

    async def rivals(self, desc: FlowDescription) -> list[FlowDescription]:
        """Other files of the root that define a flow of the same name."""
        paths = await anyio.to_thread.run_sync(self.catalog.declaring, desc.name)
        found = []
        for path in paths:
            if path == desc.file:
                continue
            try:
                other = await self.describe(self.config.relative(path))
            except FlowFileError:
                continue
            if other.name == desc.name:
                found.append(other)
        return found

    async def identity(self, desc: FlowDescription) -> tuple[dict[str, Any] | None, list[str]]:
        """What the driver needs to keep this file's runs apart from those of files defining the
        same flow class (None when no other file does), and the note that says so, once."""
        rivals = await self.rivals(desc)
        if not rivals:
            return None, []
        identity = {"file": desc.rel, "steps": desc.step_names,
                    "rivals": [{"file": r.rel, "steps": r.step_names} for r in rivals]}
        notes = []
        if desc.key not in self._told:
            self._told.add(desc.key)
            others = ", ".join(r.rel for r in rivals)
            notes.append(f"{desc.name} is also defined in {others}: Metaflow keeps both files' runs in one "
                         f"history; flowmcp uses only the runs of {desc.rel} (runs it did not start are matched "
                         "by script name and steps; those it cannot match are left out).")
        return identity, notes

    async def housekeep(self, flow_name: str) -> None:
        """Prune the flow's old spins and stale client-cache copies after an answer, not before
        it: with many spins kept, finding unreferenced blobs reads every spin's index."""
        if self.task_group is None:
            await anyio.to_thread.run_sync(self._prune_pass, flow_name)
            return
        if flow_name in self._pruning:
            self._pruning[flow_name] = True  # one more pass when the running one ends
            return
        self._pruning[flow_name] = False
        self.task_group.start_soon(self._prune, flow_name)

    async def _prune(self, flow_name: str) -> None:
        with anyio.CancelScope(shield=True):  # a pass is short: never leave one half done
            try:
                while True:
                    await anyio.to_thread.run_sync(self._prune_pass, flow_name)
                    if not self._pruning.get(flow_name):
                        break
                    self._pruning[flow_name] = False
            finally:
                self._pruning.pop(flow_name, None)

    def _prune_pass(self, flow_name: str) -> None:
        """One housekeeping pass. Background work never takes the server down: a pass that fails
        (a folder another server is pruning, a name we did not expect) is logged, and the next
        pass tries again."""
        try:
            prune_spins(self.config.root, flow_name, self.config.keep_spins)
            prune_client_cache(self.config.root, self.config.state_dir / "client_cache")
        except Exception:
            log.exception("housekeeping of %s failed; it will be tried again after the next spin", flow_name)

    def _check_syntax(self, path: Path) -> None:
        """Compile the file here first: a syntax error answers in milliseconds, not after an
        interpreter and Metaflow have started."""
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as ex:
            raise self._load_error(capture.exception_record(ex, root=str(self.config.root)), path) from None
        except ValueError:  # NUL bytes and the like: let Python in the project say it
            pass

    def _load_error(self, record: dict, path: Path) -> FlowFileError:
        summary = failure_summary.from_capture({"exception": record}, self.config.root, flow_file=path)
        failure = to_model(summary)
        return FlowFileError(f"{self.config.relative(path)} cannot be loaded: {failure.summary}", failure)

    def _describe_error(self, error: FlowFileError, path: Path) -> FlowFileError:
        """A file that does not load, led by its own error's headline when Python raised one."""
        if error.detail.get("exception"):
            return self._load_error(error.detail["exception"], path)
        return error

    # ------------------------------------------------------------------ failures

    def failure(self, *, step: str | None, task: str | None, captures: list[dict], cli_error: dict | None,
                stderr: str = "", output: str = "", flow: FlowDescription | None = None,
                spin: bool = False) -> models.Failure:
        """The best failure summary from what a failed job left, most structured source first."""
        root = self.config.root
        flow_file = flow.file if flow else None
        summary = None
        failed = [c for c in captures if c.get("exception") and (step is None or c.get("step") == step)]
        metaflow_error = (cli_error or {}).get("metaflow")
        if failed:
            summary = failure_summary.from_capture(failed[-1], root, step=step, task=task, flow_file=flow_file)
        elif metaflow_error and metaflow_error.get("type") == "TaskFailed":
            # No record from the step process: it printed its traceback (the capture hook is off
            # with this Metaflow), or it died without a Python exception (a signal, os._exit) and
            # Metaflow only knows its return code.
            summary = (failure_summary.from_traceback_text(stderr, root)
                       or failure_summary.from_traceback_text(output, root)
                       or failure_summary.from_exit(step, metaflow_error.get("message", "") + "\n" + output))
            summary.step, summary.task = summary.step or step, task
        elif metaflow_error:
            summary = failure_summary.from_metaflow_error(metaflow_error, root, flow.step_names if flow else None)
        elif cli_error and (cli_error.get("syntax") or cli_error.get("exception")):
            # Raised in the process that started Metaflow's CLI, not in a step: the flow (its module
            # code, its configs, its decorators) is what failed.
            record = cli_error.get("syntax") or cli_error.get("exception")
            summary = failure_summary.from_capture({"exception": record}, root, step=None, task=None,
                                                   flow_file=flow_file)
            summary.origin = "flow"
        if summary is None:
            summary = (failure_summary.from_traceback_text(stderr, root)
                       or failure_summary.from_traceback_text(output, root))
            if summary is not None:
                summary.step, summary.task = step, task
        if summary is None:
            summary = failure_summary.from_exit(step, output)
            summary.task = task
        if spin and summary.origin == "step":
            step_info = next((s for s in flow.steps if s["name"] == step), {}) if flow else {}
            failure_summary.spin_context(summary, step_info.get("decorators") or [])
        return to_model(summary)


def to_model(summary: failure_summary.Failure) -> models.Failure:
    where = summary.where
    return models.Failure(
        step=summary.step,
        task=summary.task,
        exception_type=summary.exception_type,
        message=failure_summary.cut_middle(summary.message, failure_summary.MAX_MESSAGE_CHARS),
        file=where.file if where else None,
        line=where.line if where else None,
        function=where.func if where else None,
        code=where.code if where else None,
        hints=summary.hints,
        origin=summary.origin,
        summary=failure_summary.render(summary),
    )
