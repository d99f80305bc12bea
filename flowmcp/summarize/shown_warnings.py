"""Warnings the steps showed (ConvergenceWarning, SettingWithCopyWarning, FutureWarning, …), as
at most three lines: each kind once, counted, with where it was raised.

The step hook (bridge/project/step_hook.py) counts what Python showed — with Python's default
filters, a warning repeated at one place shows once per task — so a count is of tasks and
places, and says how often the agent would have seen it on the console.
"""

from __future__ import annotations

import re
from pathlib import Path

from .text import cut_end

MAX_LINES = 3
LINE_CHARS = 200
_SITE = re.compile(r".*[/\\](?:site|dist)-packages[/\\]")
# Warnings raised inside Metaflow's own code (its runtime, its datastore, its extensions) are not
# the step's: the step's code could not change them.
_METAFLOW = re.compile(r"(?:^|[/\\])(?:metaflow|metaflow_extensions)[/\\][^:]*\.py:\d+$")


def lines(captures: list[dict], root: Path, step: str | None = None) -> list[str]:
    """`Warning: Kind ×N at where: message`, most frequent first; a last line counts the rest."""
    merged: dict[tuple[str, str], dict] = {}
    for record in captures:
        if step is not None and record.get("step") != step:
            continue
        for entry in record.get("warnings") or []:
            if not entry.get("user") and _METAFLOW.search(entry.get("where") or ""):
                continue
            key = (entry.get("category", "Warning"), entry.get("message", ""))
            seen = merged.setdefault(key, {"count": 0, "tasks": 0, "where": entry.get("where", "")})
            seen["count"] += int(entry.get("count") or 1)
            seen["tasks"] += 1
    if not merged:
        return []
    ranked = sorted(merged.items(), key=lambda item: -item[1]["count"])
    room = MAX_LINES if len(ranked) <= MAX_LINES else MAX_LINES - 1
    out = []
    for (category, message), seen in ranked[:room]:
        times = f" ×{seen['count']}" if seen["count"] > 1 else ""
        tasks = f" in {seen['tasks']} tasks" if seen["tasks"] > 1 else ""
        where = _where(seen["where"], root)
        text = f"Warning: {category}{times}{tasks}" + (f" at {where}" if where else "") + f": {message}"
        out.append(cut_end(text, LINE_CHARS))
    if len(ranked) > room:
        rest = ranked[room:]
        out.append(f"… and {len(rest)} more kinds of warnings ({', '.join(sorted({c for (c, _), _ in rest}))})")
    return out


def _where(where: str, root: Path) -> str:
    """A user file relative to the root; a library file from its package folder."""
    if not where:
        return ""
    path, _, line = where.rpartition(":")
    try:
        return f"{Path(path).resolve().relative_to(root)}:{line}"
    except (ValueError, OSError):
        pass
    return _SITE.sub("", path) + f":{line}" if _SITE.match(path) else where
