"""Hints that let an agent fix a failure in one edit: did-you-mean from what exists, where an
artifact is set, what an installed module is called, and what only holds under spin.

Pure functions over the captured record; `failure.py` calls them while it extracts a summary.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from ..state.catalog import source_text
from ..state.steps import is_step
from . import hints_inside, rules, suggest
from .failure_data import Failure

MAX_NAMES_LISTED = 12
_NEEDS_ENVIRONMENT = re.compile(r"@(conda|pypi)\w* decorator requires --environment=")
_SPIN_BUG_FILE = "datastore/content_addressed_store.py"


def needed_environment(message: str) -> str | None:
    """"pypi" or "conda" when Metaflow refused to start for want of its --environment option."""
    match = _NEEDS_ENVIRONMENT.search(message)
    return match.group(1) if match else None


def environment_hint(message: str) -> str | None:
    """@conda/@pypi: Metaflow asks for its --environment option, which our tools take as an argument."""
    kind = needed_environment(message)
    if kind is None:
        return None
    return (f'Pass environment="{kind}" to run, spin or resume: the flow\'s @{kind} '
            "decorators need Metaflow to build their environment.")


def spin_context(failure: Failure, step_decorators: list[str], source_attempt: int | None = None) -> None:
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
    elif "retry" in step_decorators:
        after = (f"; in the run this spin took its state from, the task succeeded on attempt {source_attempt + 1}"
                 if source_attempt else "")
        failure.hints.append("spin runs the step once, without @retry (Metaflow drops it under spin, and "
                             f"current.retry_count is 0){after}.")
        if source_attempt:
            failure.origin = "retry"


def _user_calls_client(failure: Failure) -> bool:
    """The user's code called Metaflow's Client (a user frame, then client frames below it). A
    client frame with no user frame above it is Metaflow loading the parent's artifacts."""
    seen_user = False
    for frame in failure.frames:
        seen_user = seen_user or frame.user
        if seen_user and "metaflow/client/" in frame.file.replace("\\", "/"):
            return True
    return False


@dataclass
class Context:
    """What a hint may draw on besides the exception: the step's inputs, the flow's source and
    graph, and for a spin the upstream steps edited since the run it took its state from."""

    available: list[str] | None
    failure: Failure
    flow_file: Path | None
    root: Path
    spin: bool = False
    graph: list[dict] | None = None
    stale: list[str] | None = None  # None: not known (the run was not recorded by flowmcp)

    def step_info(self, name: str | None) -> dict | None:
        return next((s for s in self.graph or [] if s.get("name") == name), None)


def hints_for(exc: dict, available: list[str] | None, failure: Failure, flow_file: Path | None,
              root: Path, spin: bool = False, graph: list[dict] | None = None,
              stale: list[str] | None = None) -> list[str]:
    """Did-you-mean and what-to-do lines for a captured exception, then its data facts."""
    ctx = Context(available, failure, flow_file, root, spin, graph, stale)
    etype = exc.get("type")
    hints: list[str] = []
    found = exc.get("suggestions") or []
    for suggestion in found:
        render = _RENDER.get(suggestion.get("kind"))
        if render is not None:
            hints.extend(render(suggestion, ctx))
    if not found and etype == "AttributeError":  # a record without live lookups: the flow's own source
        hints.extend(_attribute({"wrong": exc.get("attr_name"), "close": [], "flow": True}, ctx))
    if etype == "SystemExit":
        hints.append(f"The step called sys.exit({exc.get('message') or ''}), which Metaflow counts as a failure: "
                     "raise an exception with a message instead, or let the step return.")
    hints.extend(exc.get("data_facts") or [])
    return hints


def _attribute(found: dict, ctx: Context) -> list[str]:
    """`owner.name` missing: the owner's closest names; for a flow, where the flow sets it."""
    name = found.get("wrong")
    owner = found.get("owner")
    failure, flow_file, root = ctx.failure, ctx.flow_file, ctx.root
    where = failure.where
    if not owner and name and where is not None and re.search(rf"\bself\.{re.escape(name)}\b", where.code):
        owner = "self"
    if not name or not owner:
        return []
    if not found.get("flow") and owner != "self":
        return _library_attribute(found)
    hints = []
    names = found.get("names") or []
    if owner == "self" and ctx.available:
        names = [n for n in ctx.available if not n.startswith("_")]  # the step's inputs, complete
    close = found.get("close") or suggest.closest(name, names)
    if close:
        hints.append("Did you mean " + " or ".join(f"{owner}.{c}" for c in close) + "?")
    if owner != "self":
        if names:
            hints.append(f"{owner} has: {_listing(names)}.")
        return hints
    setters = assignments(flow_file).get(name, []) if flow_file is not None else []
    elsewhere = [(s, ln) for s, ln in setters if s != failure.step]
    join = _unmerged_join(name, elsewhere, ctx)
    if join:
        return hints + [join]  # the inputs listed would mislead: the join's own self holds none of them
    if names:
        hints.append(f"Artifacts available here: {_listing(names)}.")
    shown = _rel(flow_file, root) if flow_file is not None else ""
    rule = (rules.not_upstream(name, elsewhere, failure.step, ctx.graph, shown)
            or rules.set_later(name, setters, failure.step, where.line if where else None, shown))
    if rule:  # the graph, or the step's own order, says why no input holds it
        return hints + [rule]
    if elsewhere:
        step_name, line = elsewhere[0]
        where_set = f"{name} is set in {step_name}, {_rel(flow_file, root)}:{line}"
        if (step_name, name) in function_assignments(flow_file):
            hints.append(f"{where_set}, to a function: Metaflow does not save functions as artifacts, so no "
                         "later step has it. Define it at module level and call it, or store what it computes.")
        elif ctx.spin and ctx.stale is not None and step_name in ctx.stale:
            hints.append(f"{where_set}, but the parent state predates it: run the flow to record it before "
                         "spinning this step (a spin's outputs do not feed later spins).")
        elif ctx.spin and ctx.stale is None:
            hints.append(f"{where_set}, but the parent state does not hold it: if {step_name} changed since the "
                         f"run this spin took its state from, run the flow to record it; otherwise check that "
                         f"{step_name} sets it on every path it takes before {failure.step}.")
        else:
            hints.append(f"{where_set}, but this step's input does not hold it: check that {step_name} sets it "
                         f"on every path it takes before {failure.step}"
                         + (" (and that the run this spin used is one where it did)." if ctx.spin else "."))
    elif flow_file is not None and not setters and not close:
        hints.append(
            f"No step in {_rel(flow_file, root)} sets {name}: set self.{name} in an upstream step"
            + (", or pass it with spin(..., artifacts={...})." if ctx.spin else ".")
        )
    return hints


def _unmerged_join(name: str, setters: list[tuple[str, int]], ctx: Context) -> str | None:
    """Metaflow's rule for joins: a join's `self` holds none of its parents' artifacts until
    `self.merge_artifacts(inputs)` (or an explicit `self.X = inputs.<step>.X`) puts them there.
    When a join reads `self.X` that an upstream step sets, that rule is the whole answer —
    running or spinning again changes nothing."""
    step = ctx.failure.step
    info = ctx.step_info(step)
    is_join = info.get("type") == "join" if info is not None else step in join_steps(ctx.flow_file)
    if not is_join or not setters or ctx.flow_file is None:
        return None
    where = ctx.failure.where
    merged_at = merge_calls(ctx.flow_file, step)
    if where is not None and where.line and any(line < where.line for line in merged_at):
        return None  # merged before the failing line: the name is missing for another reason
    parents = (info or {}).get("inputs") or []
    branch_steps = _between_split_and_join(step, ctx.graph) if ctx.graph else set()
    per_branch = any(s in branch_steps for s, _ in setters)  # each input may hold its own value
    at = f" before {_rel(where.file, ctx.root)}:{where.line}" if where is not None and where.line else ""
    parent = parents[0] if parents else "<step>"
    if per_branch:
        setter = next(s for s, _ in setters if s in branch_steps)
        return (f"{step} is a join: it sees what its parents set only through `inputs`, and {name} is set in "
                f"{setter}, so each input holds its own value. Read the one you need: "
                f"`inputs.{setter}.{name}`, or all of them: `[i.{name} for i in inputs]`.")
    return (f"{step} is a join: it sees what its parents set only through `inputs`, until "
            f"self.merge_artifacts(inputs) copies them onto self. Add `self.merge_artifacts(inputs, "
            f"include=[{name!r}])`{at} (or `self.{name} = inputs.{parent}.{name}`).")


def _between_split_and_join(join: str, graph: list[dict]) -> set[str]:
    """The steps inside the branches a join closes: each branch may set its own values there."""
    steps = {s["name"]: s for s in graph}
    split = next((s["name"] for s in graph if s.get("matching_join") == join), None)
    inside = set()
    todo = list(steps.get(join, {}).get("inputs") or [])
    while todo:
        name = todo.pop()
        if name in inside or name == split or name not in steps:
            continue
        inside.add(name)
        if split is None and steps[name].get("type") in ("foreach", "split"):
            continue  # an older description without matching_join: stop at the first split above
        todo.extend(steps[name].get("inputs") or [])
    return inside


def early_returns(flow_file: Path, step: str) -> list[int]:
    """Lines of the `return` statements in a step function (not in functions nested in it)."""
    func = _step_function(flow_file, step)
    lines: list[int] = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Return):
                lines.append(child.lineno)
            visit(child)

    if func is not None:
        visit(func)
    return sorted(lines)


def merge_calls(flow_file: Path, step: str) -> list[int]:
    """Lines where a step function calls self.merge_artifacts(...)."""
    func = _step_function(flow_file, step)
    if func is None:
        return []
    return sorted(node.lineno for node in ast.walk(func) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Attribute) and node.func.attr == "merge_artifacts")


def join_steps(flow_file: Path | None) -> set[str]:
    """Step functions that take a join's `inputs` (a second argument), from the source alone."""
    tree = _parsed(flow_file) if flow_file is not None else None
    if tree is None:
        return set()
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and len(node.args.args) >= 2 and any(is_step(d) for d in node.decorator_list)}


def _step_function(flow_file: Path, step: str) -> ast.FunctionDef | None:
    tree = _parsed(flow_file)
    if tree is None:
        return None
    return next((node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == step), None)


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


def _name(found: dict, _ctx: Context) -> list[str]:
    close = found.get("close") or []
    return [f"Did you mean {close[0]}?"] if close else []


def _import(found: dict, _ctx: Context) -> list[str]:
    module, close = found.get("module"), found.get("close") or []
    if close:
        return ["Did you mean " + " or ".join(f"`from {module} import {c}`" for c in close) + "?"]
    names = found.get("names") or []
    if names:
        return [f"{module} defines: {_listing(names, found.get('count'))}."]
    return [f"{module} defines no public names."]


def _module(found: dict, _ctx: Context) -> list[str]:
    close = found.get("close") or []
    if close:
        return ["Did you mean " + " or ".join(f"{c['name']} ({c['where']})" for c in close) + "?"]
    interpreter = found.get("interpreter") or "the project's interpreter"
    return [f"No module {found.get('wrong')!r} in the project or installed for {interpreter}: "
            f"pip install {found.get('install') or found.get('wrong')} in the project's environment, "
            "or start flowmcp with --python pointing at the environment that has it."]


def _key(found: dict, _ctx: Context) -> list[str]:
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


_RENDER = {"attribute": _attribute, "name": _name, "import": _import, "module": _module, "key": _key,
           **hints_inside.RENDER}


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
