"""Metaflow's own rules, said when a failure broke one: a Parameter whose value is not of the type
the code expects, `self.input`/`self.index` outside a foreach, `inputs` outside a join, a
`merge_artifacts` include that no input holds, an artifact no step upstream sets.

Pure functions over the captured record, the flow's description (its Parameters, its graph) and
its source; `failure_sources.from_capture` calls `apply`, `hints._attribute` calls `not_upstream`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..state.catalog import source_text
from . import suggest
from .failure_data import Failure

MAX_PARAMETERS_SHOWN = 3
_TYPE_ERRORS = {"TypeError", "ValueError", "InvalidParameterError", "UFuncTypeError", "_UFuncNoLoopError"}
_SELF_NAME = re.compile(r"\bself\.([A-Za-z_]\w*)")
_FOREACH_VALUES = ("input", "index")


def apply(failure: Failure, record: dict, exc: dict, *, parameters: list[dict] | None = None,
          graph: list[dict] | None = None, flow_file: Path | None = None) -> None:
    """Add the Parameters the failing lines use to the Values, and the hints of the rules broken."""
    declared = _by_attribute(parameters or [], flow_file)
    used = _parameter_values(failure, record.get("parameters") or {}, declared)
    inputs = _inputs_outside_join(failure, exc, graph)
    if inputs:
        failure.hints[:] = []  # "did you mean input?", "no step sets inputs" would mislead: the rule is the answer
    rules = _foreach_value(failure, record, graph) + inputs
    rules += _parameter_assigned(failure, declared)
    rules += _merge_missing(exc, record, _set_upstream(flow_file, failure.step, graph))
    rules += _parameter_rule(failure, exc, used)
    failure.hints[:0] = rules


# ---------------------------------------------------------------- Parameters


def _by_attribute(declared: list[dict], flow_file: Path | None) -> dict[str, dict]:
    """The declared Parameters by the flow attribute that holds them (`lr = Parameter("learning-rate")`
    is `self.lr`), read from the flow's class body; by their name where the source does not say."""
    by_name = {p.get("name", ""): p for p in declared}
    out = {name.replace("-", "_"): p for name, p in by_name.items()}
    source = source_text(Path(flow_file)) if flow_file is not None and declared else None
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else []:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args
                and isinstance(node.value.args[0], ast.Constant) and node.value.args[0].value in by_name):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = by_name[node.value.args[0].value]
    return out


def _parameter_values(failure: Failure, values: dict, by_name: dict[str, dict]) -> list[tuple[str, dict, dict]]:
    """The Parameters the user's failing lines read (`self.epochs`), first in the Values, with their
    type and the declared one: `self.epochs = '5' (str; Parameter default 10 is int)`."""
    if not values:
        return []
    read = [m for f in failure.frames if f.user for m in _SELF_NAME.findall(f.code or "")]
    # read on an earlier line (`n = self.epochs`): a value that is not of its default's type, or a str
    # that reads as a number, a bool or JSON, is worth its place when the error is about a type
    if failure.exception_type in _TYPE_ERRORS or "Type" in failure.exception_type:
        read += [n for n in sorted(values) if n in by_name and _suspect(values[n], by_name[n])]
    names = [n for n in dict.fromkeys(read) if n in values and n in by_name][:MAX_PARAMETERS_SHOWN]
    shown = {f"self.{n}": _parameter_text(values[n], by_name[n]) for n in names}
    failure.values = {**shown, **{k: v for k, v in failure.values.items() if k not in shown}}
    return [(n, values[n], by_name[n]) for n in names]


def _suspect(value: dict, declared: dict) -> bool:
    default = declared.get("default")
    if default is not None and _python_type(default) != value.get("type") and declared.get("type") != "json":
        return True
    text = (value.get("value") or "").strip("'\"").lower()
    return value.get("type") == "str" and (_number(text) or text in ("true", "false") or text[:1] in ("{", "["))


def _parameter_text(value: dict, declared: dict) -> str:
    actual = value.get("type") or "?"
    kind = declared.get("type")
    default = declared.get("default")
    if kind == "json":
        return f"{value.get('value')} ({actual}; JSON Parameter, default {default!r})"
    parts = [actual]
    if kind and kind != actual:
        parts.append(f"Parameter type={kind}")
    if default is None:
        parts.append("Parameter with no default")
    elif _python_type(default) != actual:
        parts.append(f"Parameter default {default!r} is {_python_type(default)}")
    else:
        parts.append(f"Parameter default {default!r}")
    return f"{value.get('value')} ({'; '.join(parts)})"


def _python_type(value) -> str:
    return type(value).__name__


def _parameter_assigned(failure: Failure, declared: dict[str, dict]) -> list[str]:
    """`self.epochs = int(self.epochs)`: a step cannot set a Parameter (nor a class attribute)."""
    if failure.exception_type != "AttributeError" or "not modifiable" not in failure.message:
        return []
    where = failure.where
    match = re.match(r"\s*self\.([A-Za-z_]\w*)\s*=(?!=)", where.code if where is not None else "")
    name = match.group(1) if match else "<name>"
    kind = "a Parameter" if name in declared else "a class attribute of the flow"
    return [f"self.{name} is {kind}, read-only in steps: store the new value under another name "
            f"(self.{name}_used = ...), or declare the type=/default you need."]


def _parameter_rule(failure: Failure, exc: dict, used: list[tuple[str, dict, dict]]) -> list[str]:
    """A Parameter of the wrong type, told by the rule Metaflow types it by: its `type=`, else
    its default's type, else str — and a value from the command line is converted to that type."""
    if exc.get("type") not in _TYPE_ERRORS and "Type" not in (exc.get("type") or ""):
        return []
    message = (exc.get("message") or "").lower()
    for name, value, decl in used:
        text = value.get("value") or ""
        bare = re.escape(text.strip("'\"").lower())
        if value.get("type") == "str" and ("str" in message or (bare and re.search(rf"\b{bare}\b", message))
                                            or _suspect(value, decl)):
            return [f"Parameter {name} is a str (Metaflow types a Parameter by its type=, else its default): "
                    f"{_fix_for_text(text, decl)}"]
        if value.get("type") == "NoneType" and "none" in message:
            return [f"Parameter {name} is None: it has no default and the run was not given it. Give it a "
                    "default, or required=True."]
    for name, value, decl in used:
        if decl.get("default") is not None and not _same(value.get("value"), decl.get("default")):
            return [f"self.{name} is the run's value {value.get('value')}, not its default {decl.get('default')!r}: "
                    "pass a value of the default's shape, or handle this one."]
    return []


def _same(shown: str | None, default) -> bool:
    """Whether the value the step saw (its repr) is the Parameter's default (JSON text for JSONType)."""
    if shown == repr(default):
        return True
    try:
        return isinstance(default, str) and shown == repr(json.loads(default))
    except ValueError:
        return False


def _fix_for_text(text: str, declared: dict) -> str:
    try:
        literal = json.loads(text.strip("'\"").replace("\\'", "'"))
    except (ValueError, TypeError):
        literal = None
    default = declared.get("default")
    if isinstance(literal, bool) or text.strip("'\"").lower() in ("true", "false"):
        return "declare type=bool (a non-empty str is always true)."
    if isinstance(literal, (dict, list)):
        return f"declare type=JSONType (from metaflow) to get a {type(literal).__name__}."
    if isinstance(literal, (int, float)) or (isinstance(default, str) and _number(default)):
        kind = "float" if isinstance(literal, float) or "." in str(default) else "int"
        return f"declare type={kind}, or a number as its default."
    return "declare the type= the code expects."


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- foreach and join


def _foreach_value(failure: Failure, record: dict, graph: list[dict] | None) -> list[str]:
    """`self.input` / `self.index` read where no foreach is open: Metaflow gives them None."""
    if record.get("split") or "none" not in failure.message.lower():
        return []
    read = {m for f in failure.frames if f.user for m in _SELF_NAME.findall(f.code or "")}
    which = next((n for n in _FOREACH_VALUES if n in read), None)
    if which is None:
        return []
    step = failure.step
    rule = f"self.{which} is None in {step}: Metaflow sets it only in the steps of a foreach branch."
    foreach = [s for s in graph or [] if s.get("foreach")]
    if not foreach:
        return [rule + " This flow has no foreach: loop over the list here, or fan out with "
                       "self.next(..., foreach='<list>')."]
    split = next((s for s in foreach if s.get("name") == step), None)
    if split is not None:
        child = (split.get("next") or ["?"])[0]
        return [rule + f" {step} starts the foreach over self.{split['foreach']}: read that list here, or move "
                       f"this line into {child}."]
    closing = next((s for s in foreach if s.get("matching_join") == step), None)
    if closing is not None:
        return [rule + f" {step} joins the foreach over self.{closing['foreach']} ({closing['name']}): read the "
                       "branches through inputs (`[i.<name> for i in inputs]`)."]
    named = "; ".join(f"{s['name']} fans out over self.{s['foreach']} into {(s.get('next') or ['?'])[0]}"
                      for s in foreach[:2])
    return [rule + f" {step} is outside every foreach ({named}): move this line there, or read the list here."]


def _inputs_outside_join(failure: Failure, exc: dict, graph: list[dict] | None) -> list[str]:
    """`inputs` in a step that is not a join, or `self.inputs` anywhere."""
    named_inputs = exc.get("type") == "NameError" and re.search(r"name 'inputs' is not defined", failure.message)
    self_inputs = exc.get("type") == "AttributeError" and exc.get("attr_name") == "inputs"
    if not (named_inputs or self_inputs):
        return []
    step = failure.step
    info = next((s for s in graph or [] if s.get("name") == step), {})
    if info.get("type") == "join":
        return [f"inputs is the join's argument (`def {step}(self, inputs)`), not an artifact: write `inputs`, "
                "not `self.inputs`."]
    parents = ", ".join(info.get("inputs") or []) or "none"
    return [f"inputs exists only in a join step (`def join(self, inputs)`); {step} is a {info.get('type') or 'linear'} "
            f"step after {parents}: read its artifacts as self.<name>."]


def _merge_missing(exc: dict, record: dict, upstream: list[str]) -> list[str]:
    """merge_artifacts(include=[...]) names an artifact no input holds; `upstream`: the names the
    steps above the join set, in the flow's source."""
    if exc.get("type") != "MissingInMergeArtifactsException":
        return []
    missing = list(record.get("merge_values") or {}) or re.findall(r"\[([^\]]*)\] are not present",
                                                                     exc.get("message") or "")
    available = [n for n in upstream or record.get("available") or [] if not n.startswith("_")]
    lines = []
    for name in missing[:2]:
        close = suggest.closest(name, available)
        lines.append(f"No input of the join holds {name}" + (f". Did you mean {close[0]!r}?" if close else
                                                               f"; the branches set: {', '.join(available[:12])}."))
    return lines


def not_upstream(name: str, setters: list[tuple[str, int]], step: str | None, graph: list[dict] | None,
                 where_file: str) -> str | None:
    """An artifact read in `step` that only steps which are not upstream of it set: the graph says
    why no input holds it (a step sees only what the steps before it set)."""
    if not graph or not setters or step is None:
        return None
    above = ancestors(step, graph)
    if any(s in above for s, _ in setters):
        return None  # an upstream step sets it: another reason (a path that skips it, stale state)
    setter, line = setters[0]
    at = f"{where_file}:{line}"
    if step in ancestors(setter, graph):
        return (f"{name} is set in {setter} ({at}), which runs after {step}: a step sees only what the steps "
                f"before it set. Set it in {step} or upstream, or read it in {setter} or later.")
    return (f"{name} is set in {setter} ({at}), a branch parallel to {step}: branches do not see each other's "
            f"artifacts. Set it before the split, or read `inputs.{setter}.{name}` in the join.")


def _set_upstream(flow_file: Path | None, step: str | None, graph: list[dict] | None) -> list[str]:
    """Names `self.X = ...` sets in the steps above `step`, in source order."""
    source = source_text(Path(flow_file)) if flow_file is not None and graph and step else None
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        return []
    above = ancestors(step, graph) if tree is not None else set()
    names: dict[str, None] = {}
    for func in ast.walk(tree) if tree is not None else []:
        if isinstance(func, ast.FunctionDef) and func.name in above:
            for node in ast.walk(func):
                if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                        and getattr(node.value, "id", None) == "self"):
                    names[node.attr] = None
    return list(names)


def ancestors(step: str, graph: list[dict]) -> set[str]:
    steps = {s["name"]: s for s in graph}
    seen: set[str] = set()
    todo = list(steps.get(step, {}).get("inputs") or [])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(steps.get(name, {}).get("inputs") or [])
    return seen


def set_later(name: str, setters: list[tuple[str, int]], step: str | None, line: int | None,
              where_file: str) -> str | None:
    """`self.X` read in the step above the line that sets it (and no other step sets it)."""
    own = [ln for s, ln in setters if s == step]
    if not own or line is None or any(s != step for s, _ in setters) or min(own) <= line:
        return None
    return f"{name} is set in {step} itself, at {where_file}:{min(own)}, below this line: set it before."


def relative(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except (ValueError, OSError):
        return str(path)
