"""The server's state shared by the tools: config, bridge, and what we know of each flow file."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..bridge import capture
from ..bridge.client import Bridge
from ..bridge.housekeeping import Housekeeper
from ..errors import BridgeError, FlowFileError, InterpreterDied, NotFoundError
from ..state.catalog import FlowCatalog, source_text
from ..state.config import Config
from ..state.ledger import RunLedger
from ..state.steps import ProjectState
from ..summarize import failure as failure_summary

log = logging.getLogger(__name__)


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

    def step(self, name: str) -> dict[str, Any]:
        """The step of that name, or NotFoundError with the closest names and all of them."""
        for s in self.steps:
            if s["name"] == name:
                return s
        close = difflib.get_close_matches(name, self.step_names, n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise NotFoundError(f"{self.name} has no step {name!r}.{hint} Its steps: {', '.join(self.step_names)}.")

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
    _told: set[str] = field(default_factory=set)  # notes said once per server
    _describing: dict[tuple[Path, tuple[int, int]], Any] = field(default_factory=dict)  # -> anyio.Event
    prewarm: bool = False  # start a warm worker when the server starts (a long-lived server)

    def __post_init__(self) -> None:
        self.bridge = Bridge(self.config)
        self.state = ProjectState(self.config.state_dir / "state.json")
        self.catalog = FlowCatalog(self.config.root)
        self.housekeeper = Housekeeper(self.config.root, self.config.state_dir / "client_cache",
                                       self.config.keep_spins)
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
        if not path.is_file():  # a FIFO or a device would block whoever reads it
            raise FlowFileError(f"{flow!r} is not a regular file; pass the flow's .py file.")
        if path.suffix != ".py":
            raise FlowFileError(f"{flow!r} is not a Python file; pass the flow's .py file.")
        return path

    async def describe(self, flow: str) -> FlowDescription:
        """Name, parameters and graph of a flow file, re-read only when the file changes. Calls
        for a version already being described wait for that description (concurrent spins after
        an edit, or a call arriving while the project server describes its flow at start)."""
        path = self.flow_path(flow)
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._described.get(path)
        if cached and cached[0] == key:
            return cached[1]
        pending = self._describing.get((path, key))
        if pending is not None:
            await pending.wait()
            cached = self._described.get(path)
            if cached and cached[0] == key:
                return cached[1]
            # That description failed: this one tries again, and says why it fails.
        self._describing[(path, key)] = done = anyio.Event()
        try:
            return await self._describe(path, key)
        finally:
            done.set()
            if self._describing.get((path, key)) is done:
                del self._describing[(path, key)]

    async def _describe(self, path: Path, key: tuple[int, int]) -> FlowDescription:
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

    async def warm_up(self) -> None:
        """Start the warm worker the most recently edited flow would use, while the client is
        still connecting: the first spin or run then finds its libraries imported. Best effort:
        if it cannot start, the first job says why, as it would have."""
        try:
            files = await anyio.to_thread.run_sync(self.catalog.files)
            if not files:
                return
            newest = max(files, key=lambda f: f.path.stat().st_mtime).path
            await self.bridge.warm_up(newest)
        except Exception as ex:
            log.info("no warm worker at start: %s", ex)

    def described_before(self, flow: str) -> FlowDescription | None:
        """The last description of this file when the file has changed since (else None): what a
        spin may start from while the new version is described (see tools/spin.py)."""
        path = self.flow_path(flow)
        cached = self._described.get(path)
        if cached is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        return cached[1] if cached[0] != (stat.st_mtime_ns, stat.st_size) else None

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
        """Prune the flow's old spins and stale client-cache copies after an answer (see
        `bridge/housekeeping.py`): in the server's task group, or at once without one."""
        await self.housekeeper.after(flow_name, self.task_group)

    def _check_syntax(self, path: Path) -> None:
        """Compile the file here first: a syntax error answers in milliseconds, not after an
        interpreter and Metaflow have started."""
        source = source_text(path)  # a file too big to compile here is left to the project's Python
        if source is None:
            return
        try:
            compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as ex:
            raise self._load_error(capture.exception_record(ex, root=str(self.config.root)), path) from None
        except ValueError:  # NUL bytes and the like: let Python in the project say it
            pass

    def _load_error(self, record: dict, path: Path) -> FlowFileError:
        summary = failure_summary.from_capture({"exception": record}, self.config.root, flow_file=path)
        failure = failure_summary.as_model(summary)
        return FlowFileError(f"{self.config.relative(path)} cannot be loaded: {failure.summary}", failure)

    def _describe_error(self, error: FlowFileError, path: Path) -> FlowFileError:
        """A file that does not load, led by its own error's headline when Python raised one."""
        if error.detail.get("exception"):
            return self._load_error(error.detail["exception"], path)
        return error
