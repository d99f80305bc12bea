"""`flowmcp call` through the project server: find it (or start it), then one MCP tool call.

The caller imports nothing heavy: a JSON-RPC exchange over a Unix socket needs only the
standard library, so a call costs a Python start and a few round trips on top of the tool's own
work. The answer, the `--json` output and the exit status are those of the in-process call
(`headless.py`); progress is shown on a terminal's stderr, and nothing else is printed.

Ctrl-C (or SIGTERM) cancels this call's work only: the caller tells the server, and closing the
connection cancels whatever is left. A server that does not answer is replaced; a server that
cannot start leaves the call to run in-process (`Unavailable`). A socket that may not be this
user's own server's is refused (`Untrusted`): the call sends its environment to nobody else.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..server.schemas import usage_problem
from ..state import locks
from . import pictures
from .identity import NotASocket, Options, Paths, Untrusted, peer_uid, read_info, server_id

# `flowmcp call`'s exit status: the tool succeeded, it answered with an error, the call was misused
OK, TOOL_ERROR, USAGE = 0, 1, 2


PROTOCOL_VERSION = "2025-11-25"
HELLO_TIMEOUT_S = 15.0  # a server that does not answer its first line this soon is hung
START_TIMEOUT_S = 60.0
LOCK_TIMEOUT_S = 90.0  # another caller is starting the server: wait for it, then use it
STOP_TIMEOUT_S = 10.0
MAX_LINE_BYTES = 64 << 20
FILES_KEPT_S = 24 * 3600  # a stopped server's log and lock
CANCELLED = 130  # what a shell reports for a command ended by Ctrl-C
_started: list[subprocess.Popen] = []  # kept referenced: a server outlives the call that started it


def print_answer(text: str) -> None:
    """Print the answer; a reader that went away (`| head`) ends the output, not with a traceback."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at nothing so that flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class Unavailable(Exception):
    """No project server can serve this call; the caller runs it in-process instead."""


class _Hung(Exception):
    """A server accepted the connection but did not answer."""


class Connection:
    """One connection to a project server: JSON lines both ways."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb")
        self._ids = itertools.count(1)
        self.current: int | None = None  # the id of the request waiting for its answer
        self.reply: dict[str, Any] = {}  # the server's answer to the first line

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self) -> dict[str, Any]:
        line = self.reader.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise ConnectionError("the project server closed the connection")
        return json.loads(line)

    def request(self, method: str, params: dict[str, Any],
                on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """A JSON-RPC request; its result, or RuntimeError with the server's error message."""
        request_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        self.current = request_id
        while True:
            message = self.receive()
            if message.get("id") == request_id and ("result" in message or "error" in message):
                if "error" in message:
                    raise RuntimeError((message["error"] or {}).get("message") or "the server refused the request")
                return message["result"]
            if message.get("method") == "notifications/progress" and on_progress is not None:
                on_progress(message.get("params") or {})
            # Other notifications (logging, list changes) and requests are not for a one-call client.

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
            self.sock.close()


# ----------------------------------------------------------------------------- a call


class UsageError(Exception):
    """The call names no such tool, or misses or adds arguments (exit status 2)."""


def call(options: Options, spawn_options: list[str], tool: str, arguments: dict[str, Any], as_json: bool,
         idle_s: float, flow: str | None, out: str | None = None) -> int:
    """`flowmcp call` through the project server: print the answer, return the exit status.
    Raises Unavailable when no server can serve (the caller then runs the call in-process)."""
    progress = _Progress()
    try:
        with _terminated_as_interrupt():
            result = call_tool(options, spawn_options, tool, arguments, idle_s, flow, progress.show)
    except UsageError as ex:
        print(ex, file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        progress.clear()
        print(f"flowmcp call {tool}: cancelled; its work was stopped", file=sys.stderr)
        return CANCELLED
    except ServerStopped as ex:
        progress.clear()
        print(f"flowmcp call {tool}: {ex}", file=sys.stderr)
        return TOOL_ERROR
    except Untrusted as ex:
        print(f"flowmcp call {tool}: refused the project server's socket. {ex}", file=sys.stderr)
        return TOOL_ERROR
    progress.clear()
    return print_result(result, tool, as_json, out)


def print_result(result: dict[str, Any], tool: str, as_json: bool, out: str | None) -> int:
    """Print a tool's answer (the text, or --json its structured result), write its pictures to
    files and say where; return the exit status."""
    text = answer_text(result)
    structured = result.get("structuredContent")
    try:
        written = pictures.write(result.get("content") or [], out, tool)
    except OSError as ex:
        print(f"flowmcp call {tool}: cannot write the picture to {out}: {ex.strerror or ex}", file=sys.stderr)
        written = None
    said = pictures.said(written, out)
    if as_json:
        print_answer(json.dumps(structured if structured is not None else {"error": text}, indent=2))
        if said:
            print(said, file=sys.stderr)  # stdout stays one JSON document
    else:
        print_answer(text + (f"\n{said}" if said else ""))
    if written is None:
        return USAGE
    return TOOL_ERROR if result.get("isError") else OK


class ServerStopped(Exception):
    """The server went away, or refused the request, in the middle of a call."""


def call_tool(options: Options, spawn_options: list[str], tool: str, arguments: dict[str, Any], idle_s: float,
              flow: str | None = None, on_progress: Callable[[dict[str, Any]], None] | None = None,
              environ: dict[str, str] | None = None) -> dict[str, Any]:
    """One tool call through the project server of these options (started if none runs): the
    MCP result as JSON. KeyboardInterrupt cancels the call's work on the server and propagates."""
    environ = dict(os.environ) if environ is None else environ
    paths = Paths.of(options.root, server_id(options, environ))
    connection = connect(paths, environ, spawn_options, idle_s, flow)
    try:
        try:
            connection.request("initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                                              "clientInfo": {"name": "flowmcp call", "version": __version__}})
            connection.notify("notifications/initialized")
            tools = {t["name"]: t for t in _list_tools(connection)}
        except (OSError, ValueError, RuntimeError) as ex:
            raise Unavailable(f"the project server did not answer ({ex})") from None
        if tool not in tools:
            raise UsageError(f"flowmcp call: no tool {tool!r}; the tools are {', '.join(sorted(tools))}")
        problem = usage_problem(tool, tools[tool].get("inputSchema") or {}, arguments)
        if problem:
            raise UsageError(f"flowmcp call {tool}: {problem}")
        try:
            return connection.request("tools/call", {"name": tool, "arguments": arguments,
                                                     "_meta": {"progressToken": 1}}, on_progress)
        except KeyboardInterrupt:
            with contextlib.suppress(OSError):
                connection.notify("notifications/cancelled", {"requestId": connection.current, "reason": "Ctrl-C"})
            raise
        except (OSError, ValueError) as ex:
            raise ServerStopped(f"the project server stopped during the call ({ex}); its log: {paths.log}") from None
        except RuntimeError as ex:
            raise ServerStopped(str(ex)) from None
    finally:
        connection.close()


def answer_text(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content") or [] if c.get("type") == "text")


def _list_tools(connection: Connection) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = connection.request("tools/list", {"cursor": cursor} if cursor else {})
        yield from page.get("tools") or []
        cursor = page.get("nextCursor")
        if not cursor:
            return


class _Progress:
    """A call's progress on one line of a terminal's stderr; nothing when stderr is not a terminal
    (a script reads only the answer)."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()
        self.dirty = False

    def show(self, params: dict[str, Any]) -> None:
        if not self.shown:
            return
        message = params.get("message") or ""
        if not message and params.get("total"):
            message = f"{params.get('progress', 0):g}/{params['total']:g}"
        width = shutil.get_terminal_size((80, 20)).columns - 1
        sys.stderr.write("\r\x1b[K" + message[:width])
        sys.stderr.flush()
        self.dirty = True

    def clear(self) -> None:
        if self.dirty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.dirty = False


@contextlib.contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job's timeout, `kill`) ends the call as Ctrl-C does: its work is cancelled."""
    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (flowmcp.testing): the closing connection still cancels
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ----------------------------------------------------------------------------- finding or starting a server


def connect(paths: Paths, environ: dict[str, str], spawn_options: list[str], idle_s: float,
            flow: str | None, op: str = "call") -> Connection:
    """A connection to the server `paths` names, started first if none is running; `op` is what
    the connection is for ("call": MCP follows; "status": the reply is the server's status)."""
    with contextlib.suppress(_Hung):
        connection = _hello(paths, environ, op)
        if connection is not None:
            return connection
    try:
        paths.make_folders()
    except OSError as ex:
        raise Unavailable(f"no folder for the project server's socket ({ex})") from None
    with _start_lock(paths):
        with contextlib.suppress(_Hung):  # another caller may have started it meanwhile
            connection = _hello(paths, environ, op)
            if connection is not None:
                return connection
        _stop_recorded(paths)  # hung, or gone leaving its socket
        _prune_files_of_gone_servers(paths)
        process = _spawn(paths, spawn_options, idle_s, flow)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(_Hung):
                connection = _hello(paths, environ, op)
                if connection is not None:
                    return connection
            if process.poll() is not None:
                raise Unavailable(f"the project server exited as it started (code {process.returncode}): "
                                  f"{_log_tail(paths)}")
            if time.monotonic() > deadline:
                process.kill()
                raise Unavailable(f"the project server did not start within {START_TIMEOUT_S:g} s; "
                                  f"its log: {paths.log}")
            time.sleep(0.002)  # a connection attempt to a missing socket costs microseconds


def _hello(paths: Paths, environ: dict[str, str], op: str = "call") -> Connection | None:
    """Connect and say hello; None when no server listens there (no socket, or a stale one).
    The hello carries the caller's environment: Untrusted, with nothing sent, unless the socket
    and its folders are this user's own and the kernel says the listening process is this user's."""
    try:
        if not paths.check():
            return None
    except NotASocket as ex:
        raise Unavailable(str(ex)) from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HELLO_TIMEOUT_S)
        sock.connect(str(paths.socket))
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        sock.close()
        return None
    except OSError as ex:
        sock.close()
        raise Unavailable(f"cannot connect to the project server at {paths.socket} ({ex.strerror or ex})") from None
    # The checks above can be raced (the socket swapped after lstat); the peer's uid cannot.
    uid = peer_uid(sock)
    if uid != os.getuid():
        sock.close()
        if uid is None:
            raise Unavailable("this system does not say which user listens on a socket, and a call's environment "
                              "goes only to a server proven to be yours")
        raise paths.refuse_peer(uid)
    connection = Connection(sock)
    try:
        hello: dict[str, Any] = {"op": op, "server": paths.id}
        if op == "call":
            hello["env"] = environ
        connection.send(hello)
        reply = connection.receive()
    except TimeoutError:
        connection.close()
        raise _Hung() from None
    except (OSError, ValueError):  # it went away as we connected: as if it had not been there
        connection.close()
        return None
    if not reply.get("ok"):
        connection.close()
        raise Unavailable(f"the project server refused the call: {reply.get('refused')}")
    sock.settimeout(None)  # a tool call takes as long as it takes; Ctrl-C ends it
    connection.reply = reply
    return connection


@contextlib.contextmanager
def _start_lock(paths: Paths) -> Iterator[None]:
    """One caller starts the server; the others wait for it and then use it."""
    try:
        with locks.exclusive(paths.lock, wait_s=LOCK_TIMEOUT_S):
            yield
    except BlockingIOError:
        raise Unavailable(f"another call has been starting the project server for {LOCK_TIMEOUT_S:g} s") from None


def _spawn(paths: Paths, spawn_options: list[str], idle_s: float, flow: str | None) -> subprocess.Popen:
    """Start the server in its own session (the caller's Ctrl-C is not its), output to its log."""
    argv = [sys.executable, "-m", "flowmcp", *spawn_options, "daemon", "run", "--server", paths.id,
            "--idle-timeout", f"{idle_s:g}"]
    if flow:
        argv += ["--flow", flow]
    # `-m` puts the working folder first on the path: the folder this flowmcp was imported from
    # makes the server run this very flowmcp, whatever folder named flowmcp the caller stands in.
    package_parent = Path(__file__).resolve().parent.parent.parent
    with open(paths.log, "wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=package_parent,
                                   start_new_session=True, close_fds=True)
    _started.append(process)
    return process


def _prune_files_of_gone_servers(paths: Paths, now: float | None = None) -> None:
    """The log and start lock of servers that stopped more than a day ago (another build, other
    options): each server leaves them for a person to read, and they would pile up."""
    now = time.time() if now is None else now
    live = set(paths.servers())
    for suffix in ("*.log", "*.lock"):
        for path in paths.folder.glob(suffix):
            with contextlib.suppress(OSError):
                if path.stem not in live and path.stem != paths.id and now - path.stat().st_mtime > FILES_KEPT_S:
                    path.unlink()


def _log_tail(paths: Paths, lines: int = 5) -> str:
    try:
        return " | ".join(paths.log.read_text(errors="replace").strip().splitlines()[-lines:]) or "(no output)"
    except OSError:
        return "(no log)"


# ----------------------------------------------------------------------------- status and stop


def servers(root: str) -> list[tuple[Paths, dict | None, dict | None]]:
    """Every project server recorded for `root`: (paths, its record, its status or None when it
    does not answer)."""
    found = []
    for server in Paths.of(root, "").servers():
        paths = Paths.of(root, server)
        info = read_info(paths)
        status = None
        with contextlib.suppress(Unavailable, _Hung):
            connection = _hello(paths, {}, op="status")
            if connection is not None:
                status = connection.reply
                connection.close()
        found.append((paths, info, status))
    return found


def stop(paths: Paths, info: dict | None) -> str | None:
    """Stop one server: asked over its socket, else SIGTERM, else SIGKILL. "stopped" when one was
    running; "stale" when its record names a pid another process has now (nothing is signalled);
    None when none was."""
    pid = (info or {}).get("pid")
    asked = False
    with contextlib.suppress(Unavailable, _Hung):
        connection = _hello(paths, {}, op="stop")
        if connection is not None:
            connection.close()
            asked = True
    process = _server_process(paths, info)
    if process is not None and not _wait_gone(process, STOP_TIMEOUT_S if asked else 0):
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 2.0)):
            _send(process, sig)
            if _wait_gone(process, wait):
                break
    _remove_files(paths, pid)
    if asked or process is not None:
        return "stopped"
    return "stale" if isinstance(pid, int) and _exists(pid) else None


def _stop_recorded(paths: Paths) -> None:
    """Before a new server starts: the recorded one, if it still runs, is hung; stop it."""
    info = read_info(paths)
    process = _server_process(paths, info)
    if process is not None:
        _send(process, signal.SIGKILL)
        _wait_gone(process, 2.0)
    _remove_files(paths, (info or {}).get("pid"))


def _remove_files(paths: Paths, pid: Any) -> None:
    with contextlib.suppress(OSError):
        paths.socket.unlink()
    info = read_info(paths)
    if info is None or info.get("pid") == pid:
        with contextlib.suppress(OSError):
            paths.info.unlink()


def is_running(paths: Paths, info: dict | None) -> bool:
    """Whether the server a record names still runs (answering or not)."""
    return _server_process(paths, info) is not None


# psutil's creation time comes from the boot time, which Linux gives to the second.
CREATED_SLACK_S = 1.0


def _server_process(paths: Paths, info: dict | None):
    """The project server the record names, as a psutil process (which knows its creation time,
    so it is never confused with a later process given the same pid), or None: gone, or the pid
    is another process's now. psutil is imported here, by the stop paths, never at start."""
    import psutil

    pid = (info or {}).get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        # The record was written by the running server: a process created after that is another.
        started = (info or {}).get("started")
        if isinstance(started, int | float) and process.create_time() > started + CREATED_SLACK_S:
            return None
        command = " ".join(process.cmdline())
    except psutil.Error:  # gone, a zombie, or another user's
        return None
    return process if "flowmcp" in command and paths.id in command else None


def _send(process, sig: int) -> None:
    """Signal the process psutil knows, unless its pid is another process's by now."""
    import psutil

    with contextlib.suppress(psutil.Error):
        process.send_signal(sig)


def _exists(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid)


def _wait_gone(process, timeout: float) -> bool:
    """Whether the process ended (a zombie has) within `timeout`."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
