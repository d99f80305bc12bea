"""Hints that let an agent fix a failure in one edit: did-you-mean from what exists, where an
artifact is set, what an installed module is called, and what only holds under spin.

Pure functions over the captured record; `failure.py` calls them while it extracts a summary.
"""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .failure import Failure

MAX_CLOSE_MATCHES = 3
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
    elif any("metaflow/client/" in f for f in files):
        failure.hints.append("Under spin, Metaflow's Client sees only spin runs (the spin@ metadata provider), "
                             "not your flows' runs: pass the value in with artifacts={...} or artifacts_module, "
                             "or run(flow) to exercise this step.")
    if "catch" in step_decorators:
        failure.hints.append("spin runs the step without @catch (Metaflow drops it, and @retry, under spin): in a "
                             "run, @catch would record this error and the run would go on.")


def hints_for(exc: dict, available: list[str] | None, failure: Failure, flow_file: Path | None,
           root: Path) -> list[str]:
    etype = exc.get("type")
    if etype == "AttributeError":
        return _attribute_hints(exc, available, failure, flow_file, root)
    if etype == "KeyError":
        hints = []
        for cand in exc.get("key_candidates") or []:
            count = f"{cand.get('expr')} has {cand.get('count'):,} keys"
            if cand.get("close"):
                hints.append("Did you mean " + " or ".join(repr(c) for c in cand["close"]) + f"? ({count}).")
            else:
                hints.append(f"{count}: {_listing(cand.get('sample') or [])}.")
        return hints
    if etype == "SystemExit":
        return [f"The step called sys.exit({exc.get('message') or ''}), which Metaflow counts as a failure: "
                "raise an exception with a message instead, or let the step return."]
    if etype in ("ModuleNotFoundError", "ImportError") and exc.get("module_name"):
        close = exc.get("module_close") or []
        if close:
            names = " or ".join(repr(c) for c in close)
            return [f"Did you mean {names} (installed for {exc.get('interpreter')})?"]
        return [
            f"Module {exc['module_name']!r} is not installed for {exc.get('interpreter')}; "
            "install it in the project's environment (or start flowmcp with --python)."
        ]
    return []


def _attribute_hints(exc: dict, available: list[str] | None, failure: Failure, flow_file: Path | None,
                     root: Path) -> list[str]:
    """`owner.name` missing: the owner's closest names; for `self.name`, where the flow sets it."""
    name = exc.get("attr_name")
    cand = exc.get("attr_candidates") or {}
    owner = cand.get("owner")
    where = failure.where
    if not owner and name and where is not None and re.search(rf"\bself\.{re.escape(name)}\b", where.code):
        owner = "self"  # a record without live lookups (an older capture, a parsed traceback)
    if not name or not owner:
        return []
    hints = []
    names = cand.get("names") or []
    if owner == "self" and available:
        names = [n for n in available if not n.startswith("_")]  # the step's inputs, complete
    close = cand.get("close") or difflib.get_close_matches(name, names, n=MAX_CLOSE_MATCHES, cutoff=0.6)
    if close:
        hints.append("Did you mean " + " or ".join(f"{owner}.{c}" for c in close) + "?")
    if owner == "self":
        if names:
            hints.append(f"Artifacts available here: {_listing(names)}.")
        setters = assignments(flow_file).get(name, []) if flow_file is not None else []
        elsewhere = [(s, ln) for s, ln in setters if s != failure.step]
        if elsewhere:
            step_name, line = elsewhere[0]
            hints.append(
                f"{name} is set in {step_name}, {_rel(flow_file, root)}:{line}, but the parent "
                "state predates it: run the flow to record it before spinning this step "
                "(a spin's outputs do not feed later spins)."
            )
        elif flow_file is not None and not setters and not close:
            hints.append(
                f"No step in {_rel(flow_file, root)} sets {name}: set self.{name} in an upstream step, "
                "or pass it with spin(..., artifacts={...})."
            )
    elif names:
        hints.append(f"{owner} has: {_listing(names)}.")
    return hints


def assignments(flow_file: Path) -> dict[str, list[tuple[str, int]]]:
    """`self.X = ...` in the flow source: X -> [(step function, line)], in source order."""
    try:
        tree = ast.parse(Path(flow_file).read_text())
    except (OSError, SyntaxError, ValueError):
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


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_LISTED])
    more = len(names) - MAX_NAMES_LISTED
    return shown + (f" (+{more} more)" if more > 0 else "")


def _rel(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except (ValueError, OSError):
        return str(path)
