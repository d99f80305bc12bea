"""The browser's process on this machine: whom it runs as, where its profile lives, how much memory
it may take, and that nothing of it stays behind.

As root, the browser runs as `nobody` with Chromium's sandbox on (Chromium refuses its sandbox to
root), when `nobody` can reach the browser and the temporary folder. Each render gets a profile
folder of its own, named after the server's pid and removed after the render; profiles of servers
that died mid-render are removed at the next render. A watchdog sums the memory of the browser's
processes (its process group) and stops them all past MAX_MEMORY_MB.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..bridge.processes import pid_exists

PROFILE_PREFIX = "flowmcp-browser-"
MAX_MEMORY_MB = 1024  # all the browser's processes together; an empty page takes ~150 MB
WATCH_EVERY_S = 0.1
UNPRIVILEGED = "nobody"
# What the browser gets of the server's environment: nothing secret (a process of the browser's
# user can read the browser's environment, and as root that user is `nobody`).
KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "FONTCONFIG_FILE",
            "FONTCONFIG_PATH", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_UNSANDBOXED: set[str] = set()  # browsers whose sandbox would not start as UNPRIVILEGED here


@dataclass(frozen=True)
class Runner:
    """Whom the browser runs as: `uid` None is as ourselves."""
    uid: int | None = None
    gid: int | None = None
    sandbox: bool = True
    why: str = ""  # as root and unsandboxed: why it could not run as UNPRIVILEGED

    @property
    def describe(self) -> str:
        if self.uid is not None:
            return f"as {UNPRIVILEGED}" + (", sandboxed" if self.sandbox else " without its sandbox (none starts here)")
        return "without its sandbox, as root: " + self.why if not self.sandbox else "sandboxed"


def runner(browser: str) -> Runner:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return Runner()
    try:
        entry = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        return Runner(sandbox=False, why=f"this machine has no user {UNPRIVILEGED!r}")
    for path, what in ((browser, "the browser"), (tempfile.gettempdir(), "the temporary folder")):
        if not _reachable_by_others(Path(path)):
            return Runner(sandbox=False, why=f"{UNPRIVILEGED} cannot reach {what} ({path})")
    return Runner(entry.pw_uid, entry.pw_gid, sandbox=browser not in _UNSANDBOXED)


def no_sandbox_here(browser: str) -> None:
    """The sandbox did not start as UNPRIVILEGED (no user namespaces, no setuid helper): from now on
    the browser runs as UNPRIVILEGED without it."""
    _UNSANDBOXED.add(browser)


def _reachable_by_others(path: Path) -> bool:
    """Every folder above `path` may be passed, and `path` read and run, by any user."""
    try:
        path = path.resolve(strict=True)
        if not path.stat().st_mode & stat.S_IXOTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


def environment(run_as: Runner, profile: Path) -> dict[str, str]:
    kept = {name: os.environ[name] for name in KEPT_ENV + ("HOME",) if name in os.environ}
    if run_as.uid is not None:
        kept["HOME"] = str(profile / "data")  # not root's home, which it cannot write
    return kept


def new_profile(run_as: Runner) -> Path:
    """A folder for one render: ours (the browser's log), holding `data`, the browser's own profile."""
    sweep_profiles()
    folder = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-"))
    if run_as.uid is not None:
        folder.chmod(0o711)  # the browser's user passes through to its data; it cannot list or change ours
    data = folder / "data"
    data.mkdir(mode=0o700)
    if run_as.uid is not None:
        os.chown(data, run_as.uid, run_as.gid)
    return folder


def remove_profile(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def sweep_profiles() -> list[str]:
    """Remove the profiles of renders whose server is gone (killed mid-render): ours alone, by owner."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(tempfile.gettempdir()) as entries:
        for entry in entries:
            pid = entry.name[len(PROFILE_PREFIX):].partition("-")[0]
            if not entry.name.startswith(PROFILE_PREFIX) or not pid.isdigit():
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not pid_exists(int(pid)):
                remove_profile(Path(entry.path))
                removed.append(entry.name)
    return removed


def group_memory_mb(group: int) -> float | None:
    """Private memory (resident, not file-backed or shared) of every process in the process group,
    MB: what a card's allocations grow. None where /proc cannot tell."""
    total, seen = 0, False
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
            if int(fields[2]) != group:  # pgrp
                continue
            with open(f"/proc/{pid}/statm", "rb") as f:
                _, resident, shared = f.read().split()[:3]
        except (OSError, ValueError, IndexError):
            continue
        seen = True
        total += int(resident) - int(shared)
    return total * _PAGE / 2**20 if seen else None


async def watch_memory(group: int, cap_mb: int, over: list[float], scope: anyio.CancelScope) -> None:
    """Stop the browser (its whole process group) and the render once it holds more than `cap_mb`."""
    while True:
        await anyio.sleep(WATCH_EVERY_S)
        used = group_memory_mb(group)
        if used is not None and used > cap_mb:
            over.append(used)
            kill_group(group)
            scope.cancel()
            return


def kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, 9)
