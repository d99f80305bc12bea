"""What flowmcp remembers about a project: which version of each step a run or spin verified.

A step's version is a hash of its own source (the `@step` function, decorators included, parsed
so comments and blank lines do not count). Runs record the version of every step they ran;
spins the version of the step they spun. From that, `flow_status` tells which steps are
verified, stale (edited since) or failing, and `spin` warns when its parent state comes from
an older version of an upstream step. Kept in `.flowmcp/state.json` under the root.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

MAX_RUNS_KEPT = 200  # per flow: the step versions of older runs are forgotten


def step_versions(flow_file: Path) -> dict[str, str]:
    """{step name: short hash of its source} for the `@step` methods of the file's classes."""
    try:
        tree = ast.parse(Path(flow_file).read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    versions = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(_is_step(d) for d in fn.decorator_list):
                digest = hashlib.sha1(ast.dump(fn, include_attributes=False).encode()).hexdigest()
                versions[fn.name] = digest[:12]
    return versions


def _is_step(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "step") or (
        isinstance(target, ast.Attribute) and target.attr == "step"
    )


class ProjectState:
    """A small JSON document; every change is written atomically before the call answers."""

    def __init__(self, path: Path):
        self.path = path
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                self._data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self._data = {}
            self._data.setdefault("flows", {})
        return self._data

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def _flow(self, flow: str) -> dict[str, Any]:
        return self._load()["flows"].setdefault(flow, {"runs": {}, "steps": {}})

    def record_run(self, flow: str, run_id: str, versions: dict[str, str], step_status: dict[str, str],
                   pathspec: str) -> None:
        """A run verified (or failed) each step it ran, at the version it ran. `flow` is the flow's
        identity (file and class: `FlowDescription.key`); `pathspec` names the run in answers."""
        entry = self._flow(flow)
        entry["runs"][run_id] = versions
        for old in sorted(entry["runs"], key=_run_key)[:-MAX_RUNS_KEPT]:
            del entry["runs"][old]
        for step, status in step_status.items():
            if step in versions and status in ("succeeded", "failed"):
                self._verify(entry, step, versions[step], status == "succeeded", f"run {pathspec}")
        self._save()

    def record_spin(self, flow: str, step: str, version: str | None, ok: bool, pathspec: str | None) -> None:
        if version is None:
            return
        entry = self._flow(flow)
        last = entry["steps"].get(step)
        if ok and last and last["ok"] and last["version"] == version and str(last["by"]).startswith("run"):
            return  # a run already verified this very code, and recorded its outputs: keep saying so
        self._verify(entry, step, version, ok, f"spin {pathspec}" if pathspec else "spin")
        self._save()

    @staticmethod
    def _verify(entry: dict, step: str, version: str, ok: bool, by: str) -> None:
        entry["steps"][step] = {"version": version, "ok": ok, "by": by, "at": time.time()}

    def run_versions(self, flow: str, run_id: str) -> dict[str, str] | None:
        return self._flow(flow)["runs"].get(str(run_id))

    def last_check(self, flow: str, step: str) -> dict[str, Any] | None:
        return self._flow(flow)["steps"].get(step)


def _run_key(run_id: str) -> tuple[int, str]:
    return (int(run_id), "") if run_id.isdigit() else (0, run_id)


def upstream(steps: list[dict[str, Any]], step: str) -> list[str]:
    """Every step whose outputs can reach `step`, in graph order."""
    inputs = {s["name"]: s.get("inputs", []) for s in steps}
    seen: set[str] = set()
    todo = list(inputs.get(step, []))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(inputs.get(name, []))
    return [s["name"] for s in steps if s["name"] in seen]


def stale_upstream(steps: list[dict[str, Any]], step: str, current: dict[str, str],
                   recorded: dict[str, str] | None) -> list[str]:
    """Upstream steps edited since the run whose state a spin reuses (unknown run: none)."""
    if not recorded:
        return []
    return [s for s in upstream(steps, step) if s in current and recorded.get(s) not in (None, current[s])]
