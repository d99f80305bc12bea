"""Unit tests for single Metaflow steps, with spin.

    from flowmcp.testing import spin_step

    def test_train_fits_one_model_per_category():
        result = spin_step("flow.py", "train", artifacts={"rows": [...]})
        assert result["model"]["n"] == 3

`spin_step` re-runs one step on the inputs of an earlier run (the latest successful one by
default), with `artifacts` overriding any input — any Python object; they travel by cloudpickle.
It goes through flowmcp itself, so a failing step raises `StepFailed` with flowmcp's failure
summary (your line, the exception, a did-you-mean) as its message. It needs only the local
datastore, so it works in CI after one `python flow.py run` (or flowmcp's `run`).

Each call starts a server and its warm worker, and stops them. A suite of step tests pays that
once with `SpinSession` — or the session-scoped pytest fixture `flowmcp_session`, which
installing flowmcp registers: while it is active, every `spin_step` of the test session goes
through one server per project root, its warm worker kept between tests.

    def test_train(flowmcp_session):
        result = spin_step("flow.py", "train")

`spin_step(..., daemon=True)` (or `FLOWMCP_TESTING_DAEMON=1`, which wins over the fixture) goes
through the root's project server instead, the one `flowmcp call` uses (`flowmcp/daemon`): it
outlives the test session, so the next `pytest` finds the server and its worker warm too, and
pays no start at all; `flowmcp daemon stop` ends it.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import gc
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import cloudpickle

from ..state.config import Config

if TYPE_CHECKING:
    from ..app import App

# Light on purpose: a test module importing this pays milliseconds at collection. The server's
# stack (MCP, validation) is imported at the first call, while the warm worker starts beside it.

__all__ = ["SpinSession", "StepFailed", "StepResult", "spin_step"]


class StepFailed(AssertionError):
    """The spun step failed; the message is flowmcp's failure summary."""


class StepResult(Mapping):
    """The step's outputs: `result["name"]` is the real value, read from the spin's datastore."""

    def __init__(self, pathspec: str, root: Path, answer: dict[str, Any], text: str):
        self.pathspec = pathspec
        self.root = root
        self.answer = answer  # the spin tool's structured answer
        self.text = text  # what an agent would read
        self._task = None

    @property
    def task(self):
        if self._task is None:
            from ..bridge.metaflow_compat import spin_task

            self._task = spin_task(self.pathspec, root=self.root)
        return self._task

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(f"{name!r}: the step has no artifact of that name; it has {', '.join(self._names())}")
        return self.task[name].data

    def _names(self) -> list[str]:
        return sorted(a.id for a in self.task.artifacts if not a.id.startswith("_") and a.id != "name")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @property
    def stdout(self) -> str:
        return self.answer.get("stdout_tail", "")

    def __repr__(self) -> str:
        return f"StepResult({self.pathspec!r}, artifacts={self._names()})"


def spin_step(
    flow: str | os.PathLike,
    step: str,
    *,
    artifacts: dict[str, Any] | None = None,
    run: str | int | None = None,
    task: str | int | None = None,
    root: str | os.PathLike | None = None,
    python: str | None = None,
    timeout_s: float = 600,
    daemon: bool | None = None,
) -> StepResult:
    """Spin `step` of `flow` and return its outputs; raise StepFailed with the summary if it fails.

    `root` is the project root (default: the current directory, or the flow's folder when the
    flow is outside it); `python` the interpreter that runs the flow (default as for the server);
    `daemon` goes through the root's project server, in a session too (default:
    $FLOWMCP_TESTING_DAEMON).
    """
    flow_path = Path(flow).resolve()
    root_path = Path(root).resolve() if root else Path.cwd().resolve()
    if root is None and root_path not in flow_path.parents:
        root_path = flow_path.parent
    if daemon is None:
        daemon = os.environ.get("FLOWMCP_TESTING_DAEMON", "") not in ("", "0")
    daemon = daemon and os.name == "posix"
    config = Config.create(str(root_path), python)
    arguments: dict[str, Any] = {"flow": str(flow_path), "step": step, "persist": True, "timeout_s": timeout_s}
    if run is not None:
        arguments["run"] = str(run)
    if task is not None:
        arguments["task"] = str(task)
    module = _artifacts_module(config, artifacts) if artifacts else None
    if module:
        arguments["artifacts_module"] = str(module)
    try:
        if daemon:  # asked for by name or for the whole run (the environment): even in a session
            text, answer, is_error = _call_project_server(config, python, arguments)
        elif _active is not None:  # the session's server for this root
            text, answer, is_error = _active.call(config, flow_path, arguments)
        else:  # a server of this call's own
            text, answer, is_error = _call_in_thread(config, flow_path, arguments)
    finally:
        if module:  # the inputs of this one call
            module.unlink(missing_ok=True)
            module.with_suffix(".pkl").unlink(missing_ok=True)
    if is_error:
        raise StepFailed(text)
    return StepResult(answer["pathspec"], root_path, answer, text)


class SpinSession:
    """One flowmcp server per project root (and its warm worker), kept for many `spin_step`
    calls: `with SpinSession():` makes every `spin_step` inside use it; the pytest fixture
    `flowmcp_session` keeps one for a whole test session. The servers run on an event loop of
    their own thread, so sync and async tests alike can call `spin_step`."""

    def __init__(self) -> None:
        self._portal_cm = None
        self._portal = None
        self._clients: dict[tuple[Path, str], tuple[Any, Any]] = {}
        self.apps: dict[tuple[Path, str], App] = {}  # the servers' state, by (root, interpreter)

    def __enter__(self) -> SpinSession:
        global _active
        if _active is not None:
            raise RuntimeError("a SpinSession is already active")
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        _active = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        _active = None
        try:
            for client_cm, _ in self._clients.values():
                client_cm.__exit__(None, None, None)  # stops the server and its warm workers
        finally:
            self._clients.clear()
            self.apps.clear()
            self._portal_cm.__exit__(None, None, None)

    def call(self, config: Config, flow: Path, arguments: dict[str, Any]) -> tuple[str, dict, bool]:
        key = (config.root, config.python)
        if key not in self._clients:
            # One task of the portal's loop holds the client (and the server) open between calls
            app = _app_with_early_worker(config, flow)
            client_cm = self._portal.wrap_async_context_manager(_client(app))
            self._clients[key] = (client_cm, client_cm.__enter__())
            self.apps[key] = app
            _import_reader_meanwhile()
        client = self._clients[key][1]
        return _result(self._portal.call(_call_spin, client, arguments))


_active: SpinSession | None = None


def _result(result) -> tuple[str, dict, bool]:
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, result.structured_content or {}, bool(result.is_error)


def _artifacts_module(config: Config, artifacts: dict[str, Any]) -> Path:
    """An ARTIFACTS module for Metaflow that unpickles the given objects (cloudpickle: lambdas,
    local classes and numpy arrays all travel)."""
    folder = config.state_dir / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"test_inputs_{uuid.uuid4().hex[:12]}"
    (folder / f"{stem}.pkl").write_bytes(cloudpickle.dumps(artifacts))
    module = folder / f"{stem}.py"
    module.write_text(
        "# Written by flowmcp.testing.spin_step: the inputs a test passed.\n"
        "import pickle\n"
        f"with open({str(folder / (stem + '.pkl'))!r}, 'rb') as f:\n"
        "    ARTIFACTS = pickle.load(f)\n"
    )
    return module


def _app_with_early_worker(config: Config, flow: Path) -> App:
    """The server's state for `config`, its warm worker started before the server's own stack is
    imported (as `flowmcp serve` does, bridge/early.py): the two imports overlap."""
    from ..bridge import early

    _exit_without_freeing_the_stack()
    early_worker = early.start(config, flow)
    from ..app import App

    app = App(config)
    if early_worker is not None:
        app.bridge.jobs.warm.adopt(early_worker)
    return app


_exit_registered = False


def _exit_without_freeing_the_stack() -> None:
    """Once this process loads a server's stack: at its exit, collect the garbage (its finalizers
    run as they would), then leave what is alive to the process's end. Freeing the MCP and
    validation libraries' models object by object took 0.2-0.5 s at every exit of a test session.
    FLOWMCP_TESTING_FAST_EXIT=0 keeps the usual exit."""
    global _exit_registered
    if _exit_registered or os.environ.get("FLOWMCP_TESTING_FAST_EXIT") == "0":
        return
    _exit_registered = True

    def collect_then_freeze() -> None:  # atexit runs it before the handlers registered earlier
        gc.collect()
        gc.freeze()

    atexit.register(collect_then_freeze)


def _import_reader_meanwhile() -> None:
    """Import Metaflow, which reading a step's outputs needs here, on a thread of its own while
    the first spin runs (this process only waits for it): not meanwhile the server's own imports,
    which would take twice as long sharing the interpreter."""

    def load() -> None:
        with contextlib.suppress(Exception):  # StepResult says why when it reads
            import metaflow  # noqa: F401

    threading.Thread(target=load, name="flowmcp-import-metaflow", daemon=True).start()


def _client(app: App):
    from mcp import Client

    from ..server.build import build_server

    return Client(build_server(app))


async def _call_spin(client, arguments: dict[str, Any]):
    """The spin tool's answer, as `client.call_tool` gets it, without the client checking the
    answer against the tool's output schema: that is the server's own promise, kept by its
    tests; here it cost a tool listing, the schema library's import and a compiled validator
    (0.25 s on a session's first call), and 3 ms on every call after."""
    from mcp import types

    request = types.CallToolRequest(params=types.CallToolRequestParams(name="spin", arguments=arguments))
    return await client.session.send_request(request, types.CallToolResult)


def _call_in_thread(config: Config, flow: Path, arguments: dict[str, Any]) -> tuple[str, dict, bool]:
    """Call the spin tool through an in-process MCP client, on a thread of its own so it works
    from sync and async tests alike."""
    app = _app_with_early_worker(config, flow)

    async def call() -> tuple[str, dict, bool]:
        async with _client(app) as client:
            _import_reader_meanwhile()
            return _result(await _call_spin(client, arguments))

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, call).result()


def _call_project_server(config: Config, python: str | None, arguments: dict[str, Any]) -> tuple[str, dict, bool]:
    """Call the spin tool through the root's project server (started if none runs)."""
    from ..daemon import client
    from ..daemon.identity import Options, idle_seconds

    options = Options.of(config)
    idle_s = idle_seconds(None, os.environ)
    try:
        result = client.call_tool(options, options.argv(explicit_python=bool(python)), "spin", arguments, idle_s,
                                  arguments["flow"])
    except client.Unavailable:  # no server can serve here: this call has its own, as without daemon
        return _call_in_thread(config, Path(arguments["flow"]), arguments)
    except (client.ServerStopped, client.Untrusted) as ex:  # Untrusted: not a server to fall back from quietly
        return str(ex), {}, True
    return client.answer_text(result), result.get("structuredContent") or {}, bool(result.get("isError"))
