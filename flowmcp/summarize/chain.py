"""When the error was raised in the user's own helper module (a sibling file, a sub-package): the
step's line that called it, and which of the two an edit should touch — the helper, or the data
the step passes it. Pure functions over the failure and the helper's source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..state.catalog import source_text
from .failure_data import CALLED_FROM, Failure, Frame

# Errors about the value a line was given (its type, a missing key, an empty list, a bad content)
_ABOUT_THE_VALUE = {"KeyError", "AttributeError", "TypeError", "IndexError", "ValueError"}
_COMPREHENSIONS = {"<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>", "<lambda>"}
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")


def helper_chain(failure: Failure, flow_file: Path | None, root: Path) -> None:
    """Add the step's calling line and where the fix goes (`failure.fix_at`) when the failing user
    line is in a helper module rather than the flow file."""
    where = failure.where
    if where is None or flow_file is None or not where.user:
        return
    flow_rel = _rel(flow_file, root)
    if where.file == flow_rel:
        return
    calls = [f for f in failure.frames if f.user and not f.hidden and f.file == flow_rel]
    if not calls:
        return
    named = [f for f in calls if f.func not in _COMPREHENSIONS]  # `in train`, not `in <listcomp>`
    call = named[-1] if named and (named[-1].line == calls[-1].line) else calls[-1]
    step = failure.step or call.func
    helper, why = _fix_in_helper(failure, where, root)
    called = f"{call.file}:{call.line} in {call.func}: {call.code}" if call.code else f"{call.file}:{call.line}"
    if helper:
        failure.fix_at = f"{where.file}:{where.line} in {where.func} (the helper)"
        target = f"the helper, {where.file}:{where.line}"
    else:
        failure.fix_at = f"what {call.file}:{call.line} in {step} passes to {where.func}"
        target = "the data the step passes"
    failure.hints.insert(0, f"{CALLED_FROM}{called}\nFix {target}: {why}.")


def _fix_in_helper(failure: Failure, where: Frame, root: Path) -> tuple[bool, str]:
    """(True, why) when the helper's own code is wrong; (False, why) when it tripped on its input."""
    code = where.code or ""
    if re.match(r"(raise|assert)\b", code):
        return False, f"{where.func} refused it"
    if any(h.startswith("Did you mean") for h in failure.hints):
        return True, "the name it looks up is misspelt"
    args, derived = _arguments(root / where.file, where.func, where.line)
    span = code[where.col:where.end_col] if where.col is not None and where.end_col else code
    named = _IDENTIFIER.findall(span)
    used = [a for a in derived if a in named]
    if failure.exception_type in _ABOUT_THE_VALUE and used:
        given = [a for a in args if a in used] or [a for a in args if a in derived[used[0]]] or args[:1]
        return False, f"the line tripped on {used[0]}, from the argument {given[0]}" \
            if used[0] not in args else f"the line tripped on the argument {used[0]}"
    return True, f"{where.func}'s own computation failed"


def _arguments(path: Path, func: str, line: int | None) -> tuple[list[str], dict[str, set[str]]]:
    """The parameter names of the function `func` that holds `line` in `path`, and the names made
    from them ({name: the arguments it comes from}: `for order in orders`, `arr = np.asarray(values)`)."""
    source = source_text(path)
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        tree = None
    if tree is None or line is None:
        return [], {}
    for node in ast.walk(tree):
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func
                and node.lineno <= line <= (node.end_lineno or line)):
            a = node.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
            names = [n for n in names if n not in ("self", "cls")]
            return names, _derived(node, names)
    return [], {}


def _derived(func: ast.AST, args: list[str]) -> dict[str, set[str]]:
    """Names bound, in source order, from expressions that read an argument or such a name."""
    made = {a: {a} for a in args}
    bindings = []
    for node in ast.walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bindings.append((getattr(node, "lineno", 0), targets, node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            bindings.append((getattr(node, "lineno", getattr(node.iter, "lineno", 0)), [node.target], node.iter))
    for _, targets, value in sorted(bindings, key=lambda b: b[0]):
        sources = set().union(*(made[n.id] for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in made))
        if sources:
            for target in targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        made.setdefault(n.id, set()).update(sources)
    return made


def _rel(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except (ValueError, OSError):
        return str(path)
