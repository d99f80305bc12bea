"""What flowmcp knows of the runs it started, beyond what Metaflow records.

Metaflow's local metadata cannot tell a run that is still going from one whose processes were
killed (a timeout, a cancel, a server that went away): neither has an end. So each run flowmcp
starts gets a small file, `.flowmcp/runs/<Flow>/<run_id>.json`, with the flow file it came from
and the process that drives it, and, when flowmcp itself stops the run, how it ended. The
project-side driver reads these files to give every run one true status (`bridge/driver.py`,
`true_status`), and to tell apart the runs of two files that define the same flow class.

One file per run: several servers on one root never write the same file at the same time.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .layout import LEDGER_DIR

_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), so a reused pid is not taken for ours."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class RunLedger:
    def __init__(self, state_dir: Path):
        self.dir = state_dir / LEDGER_DIR

    def path(self, flow: str, run_id: str) -> Path | None:
        if not (_SAFE.match(flow) and _SAFE.match(run_id)):
            return None
        return self.dir / flow / f"{run_id}.json"

    def started(self, flow: str, run_id: str, *, file: str, pid: int | None, kind: str = "run") -> None:
        self._write(flow, run_id, {
            "file": file, "kind": kind, "pid": pid, "pid_start": process_start(pid) if pid else None,
            "started_at": time.time(), "server_pid": os.getpid(),
        })

    def ended(self, flow: str, run_id: str, status: str, message: str) -> None:
        """flowmcp stopped the run itself: `status` is "cancelled" or "timed_out"."""
        entry = self.read(flow, run_id) or {}
        entry["ended"] = {"status": status, "message": message, "at": time.time()}
        self._write(flow, run_id, entry)

    def outcome(self, flow: str, run_id: str, *, warm: bool, path_note: str | None,
                failure: str | None = None, failed_step: str | None = None, notes: list[str] | None = None) -> None:
        """How the run went, as flowmcp saw it: whether its tasks were forks of the warm worker,
        what @catch kept and @retry ran again (`notes`: the step hook saw the exceptions), and for
        a run that failed outside any task (Metaflow rejected a step's transition, its runtime
        stopped), the error — Metaflow records none of these where the Client reads them."""
        entry = self.read(flow, run_id) or {}
        entry.update(warm=warm, path_note=path_note, notes=list(notes or []))
        if failure:
            entry["failure"] = {"message": failure, "step": failed_step}
        self._write(flow, run_id, entry)

    def read(self, flow: str, run_id: str) -> dict[str, Any] | None:
        path = self.path(flow, run_id)
        try:
            data = json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write(self, flow: str, run_id: str, entry: dict[str, Any]) -> None:
        path = self.path(flow, run_id)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)
