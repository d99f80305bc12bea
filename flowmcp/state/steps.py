"""What flowmcp remembers about a project: which version of each step a run or spin verified.

A step's version is a hash of its own source (the `@step` function, decorators included, parsed
so comments and blank lines do not count). Runs record the version of every step they ran;
spins the version of the step they spun. From that, `flow_status` tells which steps are
verified, stale (edited since) or failing, and `spin` warns when its parent state comes from
an older version of an upstream step. Kept in `.flowmcp/state.json` under the root.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import locks
from .catalog import source_text

log = logging.getLogger(__name__)

MAX_RUNS_KEPT = 200  # per flow: the step versions of older runs are forgotten


def step_versions(flow_file: Path) -> dict[str, str]:
    """{step name: short hash of its source} for the `@step` methods of the file's classes."""
    return dict(_versions_of(source_text(Path(flow_file))))


@functools.lru_cache(maxsize=64)
def _versions_of(source: str | None) -> tuple[tuple[str, str], ...]:
    """Every spin and run asks this of a file that mostly has not changed: parsed once per text."""
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        tree = None
    if tree is None:
        return ()
    versions = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(is_step(d) for d in fn.decorator_list):
                digest = hashlib.sha1(ast.dump(fn, include_attributes=False).encode()).hexdigest()
                versions[fn.name] = digest[:12]
    return tuple(versions.items())


def source_hash(flow_file: Path) -> str | None:
    """The flow file's text, as a short hash: whether it changed since something was said of it."""
    source = source_text(Path(flow_file))
    return hashlib.sha1(source.encode()).hexdigest()[:12] if source is not None else None


def empty_steps(flow_file: Path) -> set[str]:
    """The `@step` methods whose body does nothing but call self.next(...): a skeleton's steps,
    written to lay out the graph before their code (a docstring, `pass` and `...` aside)."""
    return set(_empty_steps_of(source_text(Path(flow_file))))


@functools.lru_cache(maxsize=64)
def _empty_steps_of(source: str | None) -> tuple[str, ...]:
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        return ()
    found = []
    for cls in (n for n in (tree.body if tree else []) if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(is_step(d) for d in fn.decorator_list) \
                    and all(_placeholder(statement) for statement in fn.body):
                found.append(fn.name)
    return tuple(found)


def _placeholder(statement: ast.stmt) -> bool:
    """`pass`, `...`, a docstring, or `self.next(...)`: lines that lay a step out without doing work."""
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr):
        value = statement.value
        if isinstance(value, ast.Constant) and (value.value is Ellipsis or isinstance(value.value, str)):
            return True
        return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "next"
                and isinstance(value.func.value, ast.Name) and value.func.value.id == "self")
    return False


def is_step(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "step") or (
        isinstance(target, ast.Attribute) and target.attr == "step"
    )


class ProjectState:
    """A small JSON document shared by every flowmcp process on the root.

    Each change is made under a lock on a file beside it, to the document as it is on disk then
    (another server may have written since), and written atomically before the call answers. A
    document of the wrong shape (edited by hand, written by something else) is set aside as
    `state.json.bad-<time>` with a warning, and flowmcp starts a new one: never fatal."""

    def __init__(self, path: Path):
        self.path = path
        self._data: dict[str, Any] = {"flows": {}}
        self._stamp: tuple[int, int] | None = None

    def _load(self) -> dict[str, Any]:
        """The document as on disk (re-read only when the file changed)."""
        try:
            st = self.path.stat()
        except OSError:
            self._data, self._stamp = {"flows": {}}, None
            return self._data
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._data, self._stamp = self._read(), stamp
        return self._data

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except OSError:
            return {"flows": {}}
        except ValueError:
            data = None
        if _well_formed(data):
            return data
        aside = self.path.with_name(f"{self.path.name}.bad-{int(time.time())}")
        try:
            os.replace(self.path, aside)
            log.warning("%s was not flowmcp's state (wrong shape); set aside as %s", self.path, aside.name)
        except OSError:
            pass
        return {"flows": {}}

    def _update(self, change: Callable[[dict[str, Any]], bool | None]) -> None:
        """Apply `change` to the document as it is on disk now, and write it (unless it says False)."""
        with locks.exclusive(self.path.with_name(self.path.name + ".lock")):
            self._stamp = None  # read what another server may have written
            data = self._load()
            if change(data) is False:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
            st = self.path.stat()
            self._data, self._stamp = data, (st.st_mtime_ns, st.st_size)

    @staticmethod
    def _flow_in(data: dict[str, Any], flow: str) -> dict[str, Any]:
        return data["flows"].setdefault(flow, {"runs": {}, "steps": {}})

    def _flow(self, flow: str) -> dict[str, Any]:
        return self._load()["flows"].get(flow) or {"runs": {}, "steps": {}}

    def record_run(self, flow: str, run_id: str, versions: dict[str, str], step_status: dict[str, str],
                   pathspec: str, why: dict[str, str] | None = None) -> None:
        """A run verified (or failed) each step it ran, at the version it ran. `flow` is the flow's
        identity (file and class: `FlowDescription.key`); `pathspec` names the run in answers;
        `why`, per failed step, a kind of failure the next call depends on ("transition": the step
        ended without its self.next, which only a run checks)."""

        def change(data: dict[str, Any]) -> None:
            entry = self._flow_in(data, flow)
            entry["runs"][run_id] = versions
            entry.pop("refused", None)  # a run started: whatever refused the last attempt is past
            for old in sorted(entry["runs"], key=_run_key)[:-MAX_RUNS_KEPT]:
                del entry["runs"][old]
            for step, status in step_status.items():
                if step in versions and status in ("succeeded", "failed"):
                    self._verify(entry, step, versions[step], status == "succeeded", f"run {pathspec}",
                                 (why or {}).get(step))

        self._update(change)

    def record_spin(self, flow: str, step: str, version: str | None, ok: bool, pathspec: str | None,
                    without_decorators: bool = False) -> None:
        """A spin checked (or failed) a step at `version`. `without_decorators`: the step has @catch
        or @retry, which spin drops, so its failure under spin says nothing against a run of the
        same code that passed with them."""
        if version is None:
            return

        def change(data: dict[str, Any]) -> bool | None:
            entry = self._flow_in(data, flow)
            last = entry["steps"].get(step)
            run_passed = bool(last and last["ok"] and last["version"] == version and str(last["by"]).startswith("run"))
            if run_passed and (ok or without_decorators):
                return False  # a run already verified this very code, and recorded its outputs: keep saying so
            self._verify(entry, step, version, ok, f"spin {pathspec}" if pathspec else "spin")
            return None

        self._update(change)

    def record_refusal(self, flow: str, message: str, source: str | None, pathspec: str | None) -> None:
        """Metaflow refused a run before any step (Metaflow keeps no reason, and may keep no run):
        its words, the flow file's text they were about (`source`: a hash) and the run it named,
        if any — until a run starts a step."""

        def change(data: dict[str, Any]) -> None:
            self._flow_in(data, flow)["refused"] = {"message": message, "source": source, "pathspec": pathspec,
                                                    "at": time.time()}

        self._update(change)

    def refusal(self, flow: str) -> dict[str, Any] | None:
        return self._flow(flow).get("refused")

    @staticmethod
    def _verify(entry: dict, step: str, version: str, ok: bool, by: str, why: str | None = None) -> None:
        entry["steps"][step] = {"version": version, "ok": ok, "by": by, "at": time.time()}
        if why:
            entry["steps"][step]["why"] = why

    def run_versions(self, flow: str, run_id: str) -> dict[str, str] | None:
        return self._flow(flow)["runs"].get(str(run_id))

    def last_check(self, flow: str, step: str) -> dict[str, Any] | None:
        return self._flow(flow)["steps"].get(step)


def _well_formed(data: Any) -> bool:
    """{"flows": {flow: {"runs": {run: {step: version}}, "steps": {step: {...}}}}}"""
    if not isinstance(data, dict) or not isinstance(data.get("flows"), dict):
        return False
    for entry in data["flows"].values():
        if not isinstance(entry, dict) or not isinstance(entry.get("runs"), dict) \
                or not isinstance(entry.get("steps"), dict):
            return False
        if not all(isinstance(v, dict) for v in entry["runs"].values()) or \
                not all(isinstance(v, dict) and {"version", "ok", "by"} <= set(v) for v in entry["steps"].values()):
            return False
    return True


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
