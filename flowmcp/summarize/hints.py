"""Hints that let an agent fix a failure in one edit: did-you-mean from what exists, where an
artifact is set, what an installed module is called, and what only holds under spin.

Pure functions over the captured record; `failure.py` calls them while it extracts a summary.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog import source_text
from . import suggest

if TYPE_CHECKING:
    from .failure import Failure

MAX_NAMES_LISTED = 12
_NEEDS_ENVIRONMENT = re.compile(r"@(conda|pypi)\w* decorator requires --environment=")
_SPIN_BUG_FILE = "datastore/content_addressed_store.py"


def environment_hint(message: str) -> str | None:
    """@conda/@pypi: Metaflow asks for its --environment option, which our tools take as an argument."""
    match = _NEEDS_ENVIRONMENT.search(message)
    if match is None:
        return None
    return (f'Pass environment="{match.group(1)}" to run, spin or resume: the flow\'s @{match.group(1)} '
            "decorators need Metaflow to build their environment.")


def spin_context(failure: Failure, step_decorators: list[str]) -> None:
    """Hints that only hold under spin, and a known Metaflow spin bug told apart from the user's
    code (its traceback ends on the user's line that read the artifact, which is not the fault)."""
    files = [f.file.replace("\\", "/") for f in failure.frames]
    if failure.exception_type == "TypeError" and any(f.endswith(_SPIN_BUG_FILE) for f in files) and \
            "NoneType" in failure.message:
        failure.origin = "metaflow"
        failure.hints.insert(0, "Not your code: a known Metaflow 2.19 spin bug (an artifact passed down from "
                                "further upstream is not found in the spin datastore). run(flow) runs this step "
                                "correctly.")
    elif _user_calls_client(failure):
        failure.hints.append("Under spin, Metaflow's Client sees only spin runs (the spin@ metadata provider), "
                             "not your flows' runs: pass the value in with artifacts={...} or artifacts_module, "
                             "or run(flow) to exercise this step.")
    if "catch" in step_decorators:
        failure.hints.append("spin runs the step without @catch (Metaflow drops it, and @retry, under spin): in a "
                             "run, @catch would record this error and the run would go on.")


def _user_calls_client(failure: Failure) -> bool:
    """The user's code called Metaflow's Client (a user frame, then client frames below it). A
    client frame with no user frame above it is Metaflow loading the parent's artifacts."""
    seen_user = False
    for frame in failure.frames:
        seen_user = seen_user or frame.user
        if seen_user and "metaflow/client/" in frame.file.replace("\\", "/"):
            return True
    return False


def hints_for(exc: dict, available: list[str] | None, failure: Failure, flow_file: Path | None,
              root: Path, spin: bool = False) -> list[str]:
    """Did-you-mean and what-to-do lines for a captured exception, then its data facts."""
    etype = exc.get("type")
    hints: list[str] = []
    found = exc.get("suggestions") or []
    for suggestion in found:
        render = _RENDER.get(suggestion.get("kind"))
        if render is not None:
            hints.extend(render(suggestion, available, failure, flow_file, root, spin))
    if not found and etype == "AttributeError":  # a record without live lookups: the flow's own source
        hints.extend(_attribute({"wrong": exc.get("attr_name"), "close": [], "flow": True}, available, failure,
                                flow_file, root, spin))
    if etype == "SystemExit":
        hints.append(f"The step called sys.exit({exc.get('message') or ''}), which Metaflow counts as a failure: "
                     "raise an exception with a message instead, or let the step return.")
    hints.extend(exc.get("data_facts") or [])
    return hints


def _attribute(found: dict, available: list[str] | None, failure: Failure, flow_file: Path | None,
               root: Path, spin: bool = False) -> list[str]:
    """`owner.name` missing: the owner's closest names; for a flow, where the flow sets it."""
    name = found.get("wrong")
    owner = found.get("owner")
    where = failure.where
    if not owner and name and where is not None and re.search(rf"\bself\.{re.escape(name)}\b", where.code):
        owner = "self"
    if not name or not owner:
        return []
    if not found.get("flow") and owner != "self":
        return _library_attribute(found)
    hints = []
    names = found.get("names") or []
    if owner == "self" and available:
        names = [n for n in available if not n.startswith("_")]  # the step's inputs, complete
    close = found.get("close") or suggest.closest(name, names)
    if close:
        hints.append("Did you mean " + " or ".join(f"{owner}.{c}" for c in close) + "?")
    if owner != "self":
        if names:
            hints.append(f"{owner} has: {_listing(names)}.")
        return hints
    if names:
        hints.append(f"Artifacts available here: {_listing(names)}.")
    setters = assignments(flow_file).get(name, []) if flow_file is not None else []
    elsewhere = [(s, ln) for s, ln in setters if s != failure.step]
    if elsewhere:
        step_name, line = elsewhere[0]
        where_set = f"{name} is set in {step_name}, {_rel(flow_file, root)}:{line}"
        if (step_name, name) in function_assignments(flow_file):
            hints.append(f"{where_set}, to a function: Metaflow does not save functions as artifacts, so no "
                         "later step has it. Define it at module level and call it, or store what it computes.")
        elif spin:
            hints.append(f"{where_set}, but the parent state predates it: run the flow to record it before "
                         "spinning this step (a spin's outputs do not feed later spins).")
        else:
            hints.append(f"{where_set}, but this step's input does not hold it: check that {step_name} sets it "
                         f"on every path, and after a join, that the join passes it on "
                         f"(self.merge_artifacts(inputs), or self.{name} = inputs.<step>.{name}).")
    elif flow_file is not None and not setters and not close:
        hints.append(
            f"No step in {_rel(flow_file, root)} sets {name}: set self.{name} in an upstream step"
            + (", or pass it with spin(..., artifacts={...})." if spin else ".")
        )
    return hints


def early_returns(flow_file: Path, step: str) -> list[int]:
    """Lines of the `return` statements in a step function (not in functions nested in it)."""
    tree = _parsed(flow_file)
    if tree is None:
        return []
    lines: list[int] = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Return):
                lines.append(child.lineno)
            visit(child)

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == step:
            visit(node)
            break
    return sorted(lines)


def function_assignments(flow_file: Path) -> set[tuple[str, str]]:
    """(step function, artifact) where the flow assigns a function to `self.X`: a lambda, a
    function the module defines, or a functools.partial of one."""
    tree = _parsed(flow_file)
    if tree is None:
        return set()
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found = set()
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.Assign):
                continue
            value = node.value
            is_function = isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in defined) or (
                isinstance(value, ast.Call) and getattr(value.func, "attr", getattr(value.func, "id", "")) == "partial")
            if not is_function:
                continue
            for target in node.targets:
                if isinstance(target, ast.Attribute) and getattr(target.value, "id", None) == "self":
                    found.add((func.name, target.attr))
    return found


def _library_attribute(found: dict) -> list[str]:
    owner, close = found["owner"], found.get("close") or []
    kind = found.get("owner_type")
    if close:
        return ["Did you mean " + " or ".join(f"{owner}.{c}" for c in close) + "?"]
    names = found.get("names") or []
    if names and found.get("count", 0) <= MAX_NAMES_LISTED * 2:
        label = f"{owner} ({kind})" if kind and kind != owner else owner
        return [f"{label} has: {_listing(names, found.get('count'))}."]
    return []


def _name(found: dict, *_) -> list[str]:
    close = found.get("close") or []
    return [f"Did you mean {close[0]}?"] if close else []


def _import(found: dict, *_) -> list[str]:
    module, close = found.get("module"), found.get("close") or []
    if close:
        return ["Did you mean " + " or ".join(f"`from {module} import {c}`" for c in close) + "?"]
    names = found.get("names") or []
    if names:
        return [f"{module} defines: {_listing(names, found.get('count'))}."]
    return [f"{module} defines no public names."]


def _module(found: dict, *_) -> list[str]:
    close = found.get("close") or []
    if close:
        return ["Did you mean " + " or ".join(f"{c['name']} ({c['where']})" for c in close) + "?"]
    interpreter = found.get("interpreter") or "the project's interpreter"
    return [f"No module {found.get('wrong')!r} in the project or installed for {interpreter}: "
            f"pip install {found.get('install') or found.get('wrong')} in the project's environment, "
            "or start flowmcp with --python pointing at the environment that has it."]


def _key(found: dict, *_) -> list[str]:
    owner, what, count = found.get("owner"), found.get("what") or "keys", found.get("count", 0)
    close = found.get("close") or []
    names = found.get("names") or []
    guess = ("Did you mean " + " or ".join(repr(c) for c in close) + "? ") if close else ""
    if count <= MAX_NAMES_LISTED:
        listed = ", ".join(repr(n) for n in names) if names else "none"
        return [f"{guess}{owner}'s {what} ({count}): {listed}."]
    nearest = [n for n in names if n not in close]
    more = f"; others include {', '.join(repr(n) for n in nearest[:3])}" if nearest else ""
    return [f"{guess}{owner} has {count:,} {what}{more}."]


_RENDER = {"attribute": _attribute, "name": _name, "import": _import, "module": _module, "key": _key}


def assignments(flow_file: Path) -> dict[str, list[tuple[str, int]]]:
    """`self.X = ...` in the flow source: X -> [(step function, line)], in source order."""
    tree = _parsed(flow_file)
    if tree is None:
        return {}
    found: dict[str, list[tuple[str, int]]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                            and sub.value.id == "self"):
                        found.setdefault(sub.attr, []).append((func.name, sub.lineno))
    return found


def _parsed(flow_file: Path) -> ast.Module | None:
    """The flow's source as a tree; None when it cannot be read or parsed (then no hint)."""
    source = source_text(Path(flow_file))
    try:
        return ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        return None


def _listing(names: list[str], total: int | None = None) -> str:
    shown = ", ".join(names[:MAX_NAMES_LISTED])
    more = (total or len(names)) - min(len(names), MAX_NAMES_LISTED)
    return shown + (f" (+{more} more)" if more > 0 else "")


def _rel(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except (ValueError, OSError):
        return str(path)
