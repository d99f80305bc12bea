"""The server's state shared by the tools: config, bridge, and what we know of each flow file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from . import models
from .bridge import Bridge, JobOutcome, capture
from .bridge.housekeeping import prune_spins
from .config import Config
from .errors import FlowFileError
from .state import ProjectState
from .summarize import failure as failure_summary

FLOW_SEARCH_LIMIT = 200  # python files scanned when list_runs is asked for the flows in the root
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".metaflow", ".metaflow_spin", ".flowmcp"}


@dataclass
class FlowDescription:
    file: Path
    name: str
    parameters: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    decorators: list[str] = field(default_factory=list)  # the flow's own (@conda_base, @project...)

    @property
    def step_names(self) -> list[str]:
        return [s["name"] for s in self.steps]


@dataclass
class App:
    config: Config
    bridge: Bridge = field(init=False)
    state: ProjectState = field(init=False)
    _described: dict[Path, tuple[tuple[int, int], FlowDescription]] = field(default_factory=dict)
    task_group: Any = None  # set by the server's lifespan: where background runs live
    background: dict[str, Any] = field(default_factory=dict)  # pathspec -> BackgroundRun
    _pruning: dict[str, bool] = field(default_factory=dict)  # flow -> another pass wanted

    def __post_init__(self) -> None:
        self.bridge = Bridge(self.config)
        self.state = ProjectState(self.config.state_dir / "state.json")

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
        outcome = await self.bridge.call("describe", {"flow_file": str(path)}, timeout=120, flow_file=path)
        if not outcome.ok:
            raise self.describe_error(outcome, path)
        data = outcome.data
        desc = FlowDescription(file=path, name=data["flow_name"], parameters=data["parameters"],
                               steps=data["steps"], decorators=data.get("flow_decorators", []))
        self._described[path] = (key, desc)
        return desc

    async def housekeep(self, flow_name: str) -> None:
        """Prune the flow's old spins after an answer, not before it: with many spins kept,
        finding unreferenced blobs reads every spin's index."""
        if self.task_group is None:
            await anyio.to_thread.run_sync(prune_spins, self.config.root, flow_name, self.config.keep_spins)
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
                    await anyio.to_thread.run_sync(prune_spins, self.config.root, flow_name, self.config.keep_spins)
                    if not self._pruning.get(flow_name):
                        break
                    self._pruning[flow_name] = False
            finally:
                self._pruning.pop(flow_name, None)

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

    def describe_error(self, outcome: JobOutcome, path: Path) -> FlowFileError:
        err = outcome.error
        rel = self.config.relative(path)
        if err.get("exception"):
            return self._load_error(err["exception"], path)
        if err.get("kind") == "internal":
            return FlowFileError(
                f"{rel} cannot be loaded: {err.get('message')}. Is Metaflow installed for {self.config.python}?"
            )
        return FlowFileError(err.get("message") or f"{rel} cannot be loaded")

    def find_flow_files(self) -> list[Path]:
        """Python files in the root that look like Metaflow flows (cheap text check, no import)."""
        found = []
        stack = [self.config.root]
        scanned = 0
        while stack and scanned < 5000:
            folder = stack.pop()
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                scanned += 1
                if entry.is_dir():
                    if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                        stack.append(entry)
                elif entry.suffix == ".py":
                    try:
                        head = entry.read_text(errors="replace")[:200_000]
                    except OSError:
                        continue
                    if "FlowSpec" in head and "@step" in head:
                        found.append(entry)
                        if len(found) >= FLOW_SEARCH_LIMIT:
                            return found
        return found

    # ------------------------------------------------------------------ failures

    def failure(self, *, step: str | None, task: str | None, captures: list[dict], cli_error: dict | None,
                stderr: str = "", output: str = "", flow: FlowDescription | None = None) -> models.Failure:
        """The best failure summary from what a failed job left, most structured source first."""
        root = self.config.root
        flow_file = flow.file if flow else None
        summary = None
        failed = [c for c in captures if c.get("exception") and (step is None or c.get("step") == step)]
        metaflow_error = (cli_error or {}).get("metaflow")
        if failed:
            summary = failure_summary.from_capture(failed[-1], root, step=step, task=task, flow_file=flow_file)
        elif metaflow_error and metaflow_error.get("type") == "TaskFailed":
            # The step process died without a Python exception (a signal, os._exit): Metaflow
            # only knows its return code.
            summary = failure_summary.from_exit(step, metaflow_error.get("message", "") + "\n" + output)
            summary.task = task
        elif metaflow_error:
            summary = failure_summary.from_metaflow_error(metaflow_error, root, flow.step_names if flow else None)
        elif cli_error and (cli_error.get("syntax") or cli_error.get("exception")):
            record = cli_error.get("syntax") or cli_error.get("exception")
            summary = failure_summary.from_capture({"exception": record}, root, step=step, task=task,
                                                   flow_file=flow_file)
        if summary is None:
            summary = (failure_summary.from_traceback_text(stderr, root)
                       or failure_summary.from_traceback_text(output, root))
            if summary is not None:
                summary.step, summary.task = step, task
        if summary is None:
            summary = failure_summary.from_exit(step, output)
            summary.task = task
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
        summary=failure_summary.render(summary),
    )
