"""Plain helpers shared by tests and benchmarks (no pytest here): a hand-driven stdio session,
free ports, and what a process left behind."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from pathlib import Path


class RawSession:
    """JSON-RPC by hand over a server's stdio, so every byte it writes to stdout is checked."""

    def __init__(self, args: list[str], cwd=None, env=None, stderr=subprocess.PIPE):
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, text=True, bufsize=1)
        self.next_id = 0

    def send(self, method: str, params: dict | None = None, notify: bool = False) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        """The response to the last request; every line on stdout must be a JSON-RPC message."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                stderr = self.proc.stderr.read()[-3000:] if self.proc.stderr else ""
                raise AssertionError("server closed stdout; stderr:\n" + stderr)
            message = json.loads(line)  # anything else on stdout would corrupt the channel
            assert message.get("jsonrpc") == "2.0", line
            if message.get("id") == self.next_id:
                return message

    def initialize(self) -> dict:
        """The legacy handshake (initialize, then initialized); returns the server's answer."""
        self.send("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "raw", "version": "0"}})
        answer = self.receive()
        self.send("notifications/initialized", notify=True)
        return answer

    def tool(self, name: str, arguments: dict) -> dict:
        """tools/call; returns the result (content, structuredContent, isError)."""
        self.send("tools/call", {"name": name, "arguments": arguments})
        return self.receive()["result"]

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout_s: float = 30) -> None:
    """Until something listens on 127.0.0.1:port; fails early if `proc` exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the server exited with {proc.returncode} before listening") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port} after {timeout_s:g} s") from None
            time.sleep(0.1)


def processes_under(root, include_zombies: bool = False, ignore: tuple[int, ...] = ()) -> list[str]:
    """Every process whose command line mentions `root`: drivers and step processes (and warm
    workers, unless their pids are in `ignore`; a worker's forks share its command line)."""
    # -ww: never cut a command line at the terminal width (else a long root would never match)
    out = subprocess.run(["ps", "-ww", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if str(root) in line and "ps -eo" not in line and (include_zombies or " Z" not in line)
            and int(line.split()[0]) not in ignore]


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux: /proc's children lists, each thread's: a subreaper's
    orphans go to any of its threads)."""
    found, todo = [], [pid]
    while todo:
        children, threads = [], []
        with contextlib.suppress(OSError):  # it ended since its parent's list was read
            threads = list(Path(f"/proc/{todo[0]}/task").iterdir())
        for thread in threads:
            with contextlib.suppress(OSError):
                children += [int(p) for p in (thread / "children").read_text().split()]
        found += children
        todo = todo[1:] + children
    return found


# `python SUBREAPER COMMAND...` runs a command under a child subreaper: whatever escapes it stays
# below, for `live_below` to find, and a SIGTERM stops all of it (tests/subreaper.py).
SUBREAPER = str(Path(__file__).with_name("subreaper.py"))


def live_below(pid: int) -> list[int]:
    """The live (not zombie) processes below `pid`."""
    return [child for child in descendants(pid) if alive(child)]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def private_dirty_kb(pid: int) -> int:
    """The memory `pid` has written and holds alone, in kB (Linux: smaps_rollup)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))


ENV_FLOW = """\
import os
from metaflow import FlowSpec, step


class EnvFlow(FlowSpec):
    @step
    def start(self):
        self.seen = {seen}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvFlow()
"""


def write_env_flow(root: Path, seen: str) -> None:
    """`env_flow.py` in `root`: its start step sets `self.seen` to the expression `seen`, read
    in the step process (of its environment, its folder)."""
    (root / "env_flow.py").write_text(ENV_FLOW.format(seen=seen))



def reachable_by_others(folder: Path) -> None:
    """Let other users pass through `folder` and its parents (pytest keeps its temporary folders
    to their user alone), for tests that act as another user."""
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod((mode & 0o7777) | 0o001)
