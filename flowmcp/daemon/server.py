"""The project server process: MCP over a Unix socket, one session per `flowmcp call`.

Every connection starts with one line of JSON from the caller (`{"op": "call", "server": ID,
"env": {...}}`, or `status`, or `stop`) and one line back; a call's connection then carries MCP
(newline-delimited JSON-RPC, as over stdio) and is served by the same server code as an agent's
session, in either protocol era. All sessions share one App, entered once: its warm workers,
descriptions and caches are what a call reuses. A call's flows get the caller's environment
(`config.CALLER_ENV`). When a caller goes away mid-call (Ctrl-C, killed), its connection closes
and whatever it asked for is cancelled, its processes stopped; other callers are not touched.

The server stops by itself when nobody has used it for its idle time (a background run counts
as use), when flowmcp's files change (another build), when its root or its socket disappears,
and on SIGTERM; stopping stops its warm workers and background runs, as a stdio server does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from ..app import App
from ..state.config import CALLER_ENV
from .identity import SOCKET_MODE, NotASocket, Options, Paths, build_id, peer_uid

# The MCP stack (half a second of imports) is imported on a thread while the flow of the call
# that started this server is described: see `run`.

log = logging.getLogger("flowmcp.daemon")

HELLO_TIMEOUT_S = 10.0  # a connection that says nothing this long is dropped
MAX_HELLO_BYTES = 4 << 20  # the first line carries the caller's environment
MAX_MESSAGE_BYTES = 64 << 20  # one JSON-RPC message (a tool's arguments can hold data)
WATCH_S = 1.0
BUILD_CHECK_S = 2.0  # a walk over flowmcp's files: about a millisecond
_DISCONNECTED = (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError,
                 ConnectionError)


class ProjectServer:
    def __init__(self, app: App, options: Options, paths: Paths, idle_s: float):
        self.app, self.options, self.paths, self.idle_s = app, options, paths, idle_s
        self.build = build_id()
        self.started = time.time()
        self.last_active = time.monotonic()
        self.connections = 0
        self.calls = 0
        self.stop_reason = ""
        self._scope: anyio.CancelScope | None = None

    async def serve(self) -> int:
        from ..server.build import build_server, started

        lowlevel = build_server(self.app)._lowlevel_server
        init = lowlevel.create_initialization_options()
        started()
        path = self.paths.socket
        self.paths.make_folders()
        try:
            self.paths.check_is_socket()
        except NotASocket as ex:
            log.error("%s; this server leaves", ex)
            return 1
        if _answers(path):
            log.warning("another project server already serves %s; this one leaves", path)
            return 0
        # Made under another name and given its mode before it takes the socket's name: a caller
        # never sees it open to others (and refuses a socket that is). It replaces a stale socket.
        made = path.with_name(f".{os.getpid()}.sock")  # no longer than the socket's own name
        listener = await anyio.create_unix_listener(made, mode=SOCKET_MODE)
        try:
            os.replace(made, path)
        except OSError as ex:  # something took the path since the check: say what, leave nothing behind
            await listener.aclose()
            made.unlink(missing_ok=True)
            log.error("cannot take %s for the socket (%s); this server leaves", path, ex.strerror or ex)
            return 1
        inode = os.stat(path).st_ino
        self._write_info(path)
        log.warning("serving %s (pid %d, idle stop after %g s)", path, os.getpid(), self.idle_s)
        try:
            async with lowlevel.lifespan(lowlevel) as state, listener, anyio.create_task_group() as tg:
                self._scope = tg.cancel_scope
                tg.start_soon(self._watch, inode)
                tg.start_soon(self._signals)
                handler = partial(self._connection, lowlevel, state, init)
                tg.start_soon(listener.serve, handler, tg)
        finally:
            self._clean_up(path, inode)
            log.warning("stopped: %s", self.stop_reason or "cancelled")
        return 0

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        if self._scope is not None:
            self._scope.cancel()

    # ---- one connection

    async def _connection(self, lowlevel, state, init, stream) -> None:
        async with stream:
            uid = _peer_uid(stream)
            if uid is not None and uid != os.getuid():
                log.warning("refused a connection from uid %d", uid)
                await _send(stream, {"ok": False, "refused": "this project server serves its owner only"})
                return
            buffered = BufferedByteReceiveStream(stream)
            try:
                with anyio.fail_after(HELLO_TIMEOUT_S):
                    hello = json.loads(await buffered.receive_until(b"\n", MAX_HELLO_BYTES))
            except (TimeoutError, ValueError, anyio.DelimiterNotFound, *_DISCONNECTED):
                return
            if not isinstance(hello, dict):
                return
            op = hello.get("op")
            if hello.get("server") != self.paths.id:
                await _send(stream, {"ok": False, "refused": "this server serves other options"})
            elif op == "status":
                await _send(stream, {"ok": True, **self.status()})
            elif op == "stop":
                await _send(stream, {"ok": True, "pid": os.getpid()})
                self.stop("asked to stop (flowmcp daemon stop)")
            elif op == "call" and not _is_environment(hello.get("env")):
                await _send(stream, {"ok": False, "refused": "a call carries its environment as strings"})
            elif op == "call":
                await _send(stream, {"ok": True, "pid": os.getpid()})
                await self._session(lowlevel, state, init, stream, buffered, hello["env"])
            else:
                await _send(stream, {"ok": False, "refused": f"unknown request {op!r}"})

    async def _session(self, lowlevel, state, init, stream, buffered, env: dict[str, str]) -> None:
        """Serve MCP on the connection until the caller closes it; then cancel what is left."""
        from mcp.server.runner import serve_dual_era_loop

        self.connections += 1
        self.calls += 1
        token = CALLER_ENV.set(env)  # copied into the reader, so into every handler of this session
        try:
            read_send, read_stream = create_context_streams(0)
            write_stream, write_receive = create_context_streams(0)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, buffered, read_send, write_stream.clone(), tg.cancel_scope)
                tg.start_soon(self._write, stream, write_receive, tg.cancel_scope)
                await serve_dual_era_loop(lowlevel, read_stream, write_stream, lifespan_state=state,
                                          init_options=init)
                tg.cancel_scope.cancel()
        finally:
            CALLER_ENV.reset(token)
            self.connections -= 1
            self.last_active = time.monotonic()

    @staticmethod
    async def _read(buffered, read_send, write_send, scope: anyio.CancelScope) -> None:
        """Every line gets an answer, as over stdio (server/stdio.py): one that cannot be read, or
        a request whose id the SDK would take for none, gets its JSON-RPC error from here."""
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        from ..server.stdio import bad_id, error_for

        async with read_send, write_send:
            while True:
                try:
                    line = await buffered.receive_until(b"\n", MAX_MESSAGE_BYTES)
                except (anyio.DelimiterNotFound, *_DISCONNECTED):
                    break
                try:
                    refused = bad_id(line)
                    message = refused or types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except Exception as ex:
                    refused = error_for(ex)
                if refused is not None:
                    await write_send.send(SessionMessage(refused))
                    continue
                await read_send.send(SessionMessage(message))
        scope.cancel()  # the caller went away: nothing it asked for should go on

    @staticmethod
    async def _write(stream, write_receive, scope: anyio.CancelScope) -> None:
        async with write_receive:
            async for message in write_receive:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                try:
                    await stream.send(data.encode() + b"\n")
                except _DISCONNECTED:
                    scope.cancel()
                    return

    # ---- the server's life

    def status(self) -> dict[str, Any]:
        idle = 0.0 if self.connections or self._running_in_background() else time.monotonic() - self.last_active
        return {
            "pid": os.getpid(), "server": self.paths.id, "build": self.build, "root": self.options.root,
            "python": self.options.python, "warm": self.options.warm, "keep_spins": self.options.keep_spins,
            "started": self.started, "uptime_s": round(time.time() - self.started, 1), "idle_s": round(idle, 1),
            "idle_stop_s": self.idle_s, "connections": self.connections, "calls": self.calls,
            "background_runs": len(self._running_in_background()),
            "warm_workers": len(self.app.bridge.jobs.warm.workers),
        }

    def _running_in_background(self) -> list[str]:
        return [pathspec for pathspec, run in self.app.background.items() if run.result is None]

    async def _watch(self, inode: int) -> None:
        build_checked = time.monotonic()
        while True:
            await anyio.sleep(WATCH_S)
            why = self._why_stop(inode)
            if why is None and time.monotonic() - build_checked > BUILD_CHECK_S:
                build_checked = time.monotonic()
                build = await anyio.to_thread.run_sync(build_id)
                if build != self.build:
                    why = f"flowmcp changed ({self.build} to {build})"
            if why:
                self.stop(why)
                return

    def _why_stop(self, inode: int) -> str | None:
        if not os.path.isdir(self.options.root):
            return "its root is gone"
        try:
            if os.stat(self.paths.socket).st_ino != inode:
                return "another server took its socket"
        except OSError:
            return "its socket was removed"
        if self.connections or self._running_in_background():
            return None
        idle = time.monotonic() - self.last_active
        return f"unused for {idle:.0f} s" if idle >= self.idle_s else None

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for received in signals:
                self.stop(f"signal {signal.Signals(received).name}")
                return

    def _write_info(self, path: Path) -> None:
        info = {"pid": os.getpid(), "server": self.paths.id, "build": self.build, "socket": str(path),
                "started": self.started, "idle_stop_s": self.idle_s, **self.options._asdict()}
        temporary = self.paths.info.with_suffix(f".json.{os.getpid()}")
        temporary.write_text(json.dumps(info, indent=1))
        os.replace(temporary, self.paths.info)

    def _clean_up(self, path: Path, inode: int) -> None:
        """Remove the socket and the record if they are still this server's."""
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                path.unlink()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.paths.info.read_text()).get("pid") == os.getpid():
                self.paths.info.unlink()


def run(app: App, options: Options, server: str, idle_s: float, flow: str | None = None) -> int:
    """`flowmcp daemon run`: serve until a stop reason; its output goes to the server's log."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    paths = Paths.of(options.root, server)
    return anyio.run(_start_and_serve, ProjectServer(app, options, paths, idle_s), flow)


async def _start_and_serve(server: ProjectServer, flow: str | None) -> int:
    """The first call is waiting: describe its flow (in the warm worker the start began) while the
    MCP stack is imported, so its spin or run finds the description made."""
    async with anyio.create_task_group() as tg:
        if flow:
            tg.start_soon(_describe_quietly, server.app, flow)
        await anyio.to_thread.run_sync(_import_mcp_stack)
        code = await server.serve()
        tg.cancel_scope.cancel()
    return code


async def _describe_quietly(app: App, flow: str) -> None:
    with contextlib.suppress(Exception):  # the call describes it again, and says what is wrong
        await app.describe(flow)


def _import_mcp_stack() -> None:
    import mcp.server.runner
    import mcp.shared.message  # noqa: F401

    from .. import server  # noqa: F401


def create_context_streams(size: int):
    """The SDK's own stdio transport uses these: handlers run in the context of the line's reader
    (so with the caller's environment). A later SDK without them: plain streams; the context is
    then the session's, which holds the caller's environment too."""
    try:
        from mcp.shared._context_streams import create_context_streams as create
    except ImportError:  # pragma: no cover
        return anyio.create_memory_object_stream(size)
    return create(size)


def _answers(path: Path) -> bool:
    """Whether a server listens on `path` (a stale socket file refuses the connection)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _peer_uid(stream) -> int | None:
    """The uid of the process at the other end; None where it cannot be asked (there, the
    owner-only folder is what keeps others out)."""
    try:
        return peer_uid(stream.extra(anyio.abc.SocketAttribute.raw_socket))
    except anyio.TypedAttributeLookupError:
        return None


def _is_environment(env: Any) -> bool:
    return isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())


async def _send(stream, message: dict[str, Any]) -> None:
    with contextlib.suppress(*_DISCONNECTED):
        await stream.send(json.dumps(message).encode() + b"\n")
