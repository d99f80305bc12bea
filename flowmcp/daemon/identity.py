"""Which project server a call may use, and where that server's files are.

A server is reused only by calls that would have built the same server: the same root,
interpreter, `--keep-spins` and `--no-warm`, the same flowmcp code, user and host, and the same
environment variables that configure Metaflow or flowmcp (`METAFLOW_*`, `FLOWMCP_*`): the server
process and its warm workers read those once, at start. The rest of a caller's environment
travels with each call, so every call's flows see their caller's own variables.

Files, under `<root>/.flowmcp/daemon/` (owner-only): `<id>.json` says who serves (pid, options,
socket), `<id>.log` is the server's output, `<id>.lock` serializes starting it, `<id>.sock` is the
socket — or, when that path is too long for a Unix socket, a socket in an owner-only folder of
the temporary directory.

A call sends its whole environment to the server, so it trusts a socket only when it is this
user's own (`Paths.check`: folders and socket owned by this uid, owner-only, not links) and the
process listening there runs as this user (`peer_uid`, asked of the kernel); anything else is
`Untrusted`, and nothing is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
from pathlib import Path
from typing import NamedTuple

from .. import __version__
from ..state.interpreter import check_keep_spins, find_interpreter, project_root

DAEMON_DIR = "daemon"
IDLE_ENV = "FLOWMCP_DAEMON_IDLE_S"  # how long an unused server lives, in seconds
DEFAULT_IDLE_S = 15 * 60
# Variables that say how the daemon itself behaves, not what it serves: never part of its identity.
# Read by the caller, never by a server: they do not make one server differ from another.
_NOT_IDENTITY = (IDLE_ENV, "FLOWMCP_NO_DAEMON", "FLOWMCP_TESTING_DAEMON", "FLOWMCP_TESTING_FAST_EXIT")
_SOCKET_PATH_BYTES = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_PACKAGE = Path(__file__).resolve().parent.parent
FOLDER_MODE = 0o700  # the loosest mode of a folder holding a server's socket: its owner's alone
SOCKET_MODE = 0o600


class Untrusted(Exception):
    """The socket, a folder holding it or the process listening on it may not be this user's own
    project server: nothing was sent to it. The message says what is wrong and how to fix it."""


class NotASocket(Exception):
    """A folder sits where the project server's socket goes: no server can listen there until it
    is removed."""


class Options(NamedTuple):
    """What makes one server different from another for the same root."""

    root: str
    python: str
    keep_spins: int
    warm: bool
    browser: str | None = None

    @classmethod
    def of(cls, config) -> Options:
        """The options of a resolved `config.Config`."""
        return cls(root=str(config.root), python=os.path.abspath(config.python), keep_spins=config.keep_spins,
                   warm=config.warm, browser=config.browser)

    @classmethod
    def resolve(cls, root: str | None, python: str | None, keep_spins: int, warm: bool,
                browser: str | None = None) -> Options:
        """The options as a server would resolve them (ValueError as Config.create raises it),
        without importing the server's configuration."""
        root_path = project_root(root)
        check_keep_spins(keep_spins)
        interpreter, _why = find_interpreter(root_path, python)
        return cls(root=str(root_path), python=os.path.abspath(interpreter), keep_spins=keep_spins, warm=warm,
                   browser=browser)

    def argv(self, explicit_python: bool) -> list[str]:
        """The options as `flowmcp` takes them, for the server a call starts. The interpreter is
        passed only when the caller named it: the server then finds the same one the same way
        (and says why it uses it, as the call would have)."""
        argv = ["--root", self.root, "--keep-spins", str(self.keep_spins)]
        argv += ["--python", self.python] if explicit_python else []
        argv += ["--browser", self.browser] if self.browser else []
        return argv + ([] if self.warm else ["--no-warm"])


def idle_seconds(given: float | None, environ) -> float:
    """How long a server a call starts lives unused: `given` (--idle-timeout), else $IDLE_ENV,
    else the default; ValueError saying which is not a positive number of seconds."""
    value = given
    if value is None:
        try:
            value = float(environ.get(IDLE_ENV) or DEFAULT_IDLE_S)
        except ValueError:
            raise ValueError(f"${IDLE_ENV} is not a number of seconds: {environ[IDLE_ENV]!r}") from None
    if not value > 0:
        raise ValueError(f"--idle-timeout must be a positive number of seconds, got {value:g}")
    return value


def build_id() -> str:
    """flowmcp's version and the state of its files: a reinstall or an edit of an editable
    install is another build, and a server of another build is never reused (it stops itself)."""
    digest = hashlib.sha256(__version__.encode())
    for folder, subfolders, files in os.walk(_PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                try:
                    info = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                digest.update(f"{folder}/{name}:{info.st_mtime_ns}:{info.st_size};".encode())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def identity_env(environ) -> dict[str, str]:
    """The caller's variables the server reads once, at start (so they decide which server)."""
    return {k: v for k, v in sorted(environ.items())
            if k.startswith(("METAFLOW_", "FLOWMCP_")) and k not in _NOT_IDENTITY}


def server_id(options: Options, environ, build: str | None = None) -> str:
    """The name of the server these options and this environment may use."""
    key = {"options": options._asdict(), "build": build or build_id(), "env": identity_env(environ),
           "uid": os.getuid(), "host": socket.gethostname()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class Paths:
    """Where the files of one server of a root are."""

    def __init__(self, folder: Path, server: str):
        self.folder, self.id = folder, server

    @classmethod
    def of(cls, root: str | os.PathLike, server: str) -> Paths:
        return cls(Path(root) / ".flowmcp" / DAEMON_DIR, server)

    @property
    def info(self) -> Path:
        return self.folder / f"{self.id}.json"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.id}.log"

    @property
    def lock(self) -> Path:
        return self.folder / f"{self.id}.lock"

    @property
    def socket(self) -> Path:
        near = self.folder / f"{self.id}.sock"
        if len(os.fsencode(near)) <= _SOCKET_PATH_BYTES:
            return near
        # A deep root: the socket goes to a short owner-only folder, named by root and server.
        import tempfile

        name = hashlib.sha256(f"{self.folder}\0{self.id}".encode()).hexdigest()[:20]
        return Path(tempfile.gettempdir()) / f"flowmcp-{os.getuid()}" / f"{name}.sock"

    @property
    def in_temporary_folder(self) -> bool:
        return self.socket.parent != self.folder

    def make_folders(self) -> None:
        """The folders that hold the socket, owner-only: nobody else can reach the socket."""
        for folder in {self.folder, self.socket.parent}:
            owner_only_folder(folder)

    def check(self) -> bool:
        """Whether a socket is there, after checking that it and its folders are this user's own
        and nobody else's to write (Untrusted otherwise). Missing folders are no problem: the
        call that starts a server makes them."""
        for folder in dict.fromkeys((self.folder, self.socket.parent)):
            try:
                info = os.lstat(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            problem = _not_own(info, FOLDER_MODE)
            if problem:
                raise Untrusted(f"{folder}, the folder of flowmcp's project server, {problem}: whoever made it "
                                f"could listen there. {self._remedy(folder, 'rm -r')}")
        try:
            info = os.lstat(self.socket)
        except (FileNotFoundError, NotADirectoryError):
            return False
        self.check_is_socket(info)
        problem = _not_own(info, SOCKET_MODE)
        if problem:
            raise Untrusted(f"{self.socket}, the project server's socket, {problem}: it may not be your server. "
                            f"{self._remedy(self.socket, 'rm')}")
        return True

    def check_is_socket(self, info: os.stat_result | None = None) -> None:
        """NotASocket when a folder is at the socket's path (a server replaces a stale socket or
        file there, but not a folder)."""
        if info is None:
            try:
                info = os.lstat(self.socket)
            except (FileNotFoundError, NotADirectoryError):
                return
        if stat.S_ISDIR(info.st_mode):
            raise NotASocket(f"{self.socket} is a folder, not the project server's socket: no server can listen "
                             f"there. Remove it (`rm -r {self.socket}`) and call again")

    def refuse_peer(self, uid: int) -> Untrusted:
        return Untrusted(f"the process listening on {self.socket} runs as uid {uid}, not as you "
                         f"(uid {os.getuid()}): it is not your project server. {self._remedy(self.socket, 'rm')}")

    def _remedy(self, path: Path, remove: str) -> str:
        elsewhere = ("set TMPDIR to a folder of your own (the socket goes to the temporary folder when the "
                     "root's path is too long)" if self.in_temporary_folder and path != self.folder
                     else "use a root of your own")
        return (f"Nothing was sent to it. Remove it (`{remove} {path}`, as its owner or root) and call again, or "
                f"{elsewhere}, or run the call without a project server (--no-daemon).")

    def servers(self) -> list[str]:
        """The ids of every server that left its record in this root."""
        try:
            return sorted(p.stem for p in self.folder.glob("*.json"))
        except OSError:
            return []


def owner_only_folder(folder: Path) -> None:
    """Make `folder` (and parents) and leave it readable by its owner only; refuse a folder that
    another user owns or that is a link (someone else could then reach or replace the socket)."""
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{folder} is not a folder of this user; remove it or choose another root")
    if stat.S_IMODE(info.st_mode) != FOLDER_MODE:
        os.chmod(folder, FOLDER_MODE)


def _not_own(info: os.stat_result, loosest: int) -> str | None:
    """What makes a file unsafe to trust as this user's own, or None."""
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to you (uid {os.getuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if mode & ~loosest:
        return f"has mode {mode:04o}, open to other users (it must be {loosest:04o} or stricter)"
    return None


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a connected Unix socket, as the kernel says
    (SO_PEERCRED); None where the system cannot tell."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    except OSError:
        return None
    return uid


def read_info(paths: Paths) -> dict | None:
    """The record a server wrote when it started listening, or None."""
    try:
        data = json.loads(paths.info.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
