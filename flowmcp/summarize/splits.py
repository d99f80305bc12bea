"""Foreach splits named by value: `split 2, input='b'`, the way an agent thinks of them.

A split is a dict `{"index", "splits", "input", "outer"}`: its index, how many splits its
foreach made, the value it was given (Metaflow's own short text of it, at most 30 characters),
and for a nested foreach the enclosing splits, outermost first, in the same shape. It is built
in the step process from the flow's foreach stack, or from a task's metadata (`foreach-stack`,
`foreach-execution-path`), which Metaflow writes for every task of a foreach; both give the same
values. Standard library only: the project's interpreter loads this module too.
"""

from __future__ import annotations

_BARE = ("(", "[", "{", "<")  # reprlib's text of a container or an object: shown as it is
METAFLOW_VALUE_CHARS = 30  # Metaflow keeps this much of a split's value (MAXIMUM_FOREACH_VALUE_CHARS)
_LITERALS = ("True", "False", "None")


def from_frames(frames) -> dict | None:
    """From `flow._foreach_stack` (Metaflow's ForeachFrame tuples: step, var, num_splits,
    index, value), in the step process; None outside a foreach."""
    levels = []
    for frame in frames or []:
        index = getattr(frame, "index", None)
        if index is None:
            continue
        value = getattr(frame, "value", None)
        levels.append({"index": index, "splits": getattr(frame, "num_splits", None),
                       "input": None if value is None else str(value), "var": getattr(frame, "var", None)})
    return _nest(levels)


def from_metadata(meta: dict, index=None, splits=None) -> dict | None:
    """From a task's metadata: `foreach-stack` (['var=value', ...], outermost first) and
    `foreach-execution-path` ('step:index,step:index'). `index` (the Client's `Task.index`)
    fills in the innermost index when the path is missing (older Metaflow)."""
    path = meta.get("foreach-execution-path") or ""
    indices = []
    for part in path.split(","):
        step, _, number = part.rpartition(":")
        if step and number.isdigit():
            indices.append(int(number))
    stack = meta.get("foreach-stack") or []
    if isinstance(stack, str):
        stack = [stack]
    values = []
    for entry in stack:
        var, sep, value = str(entry).partition("=")
        values.append((var, value) if sep else (None, str(entry)))
    if not indices and index is not None:
        indices = [int(index)]
    if not indices:
        return None
    levels = []
    for position, split_index in enumerate(indices):
        # Metaflow leaves a level out of foreach-stack when its value is empty: line the two up
        # from the innermost level, where spin and every answer need them
        offset = position - (len(indices) - len(values))
        var, value = values[offset] if 0 <= offset < len(values) else (None, None)
        levels.append({"index": split_index, "splits": None, "input": value, "var": var})
    if splits is not None:
        levels[-1]["splits"] = splits
    return _nest(levels)


def _nest(levels: list[dict]) -> dict | None:
    if not levels:
        return None
    inner = dict(levels[-1])
    if len(levels) > 1:
        inner["outer"] = [dict(level) for level in levels[:-1]]
    return inner


def shown_value(value: str | None) -> str:
    """Metaflow keeps a split's value as text: numbers, containers and objects read as they
    are, anything else quoted, as Python would show a string."""
    if value is None:
        return "?"
    if len(value) >= METAFLOW_VALUE_CHARS:
        # Metaflow cut it: say so (and the cut marker lets redaction take a secret's start)
        return repr(value)[:-1] + "…'" if not value.startswith(_BARE) else value + "…"
    if value.startswith(_BARE) or value in _LITERALS or _is_number(value):
        return value
    return repr(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def label(split: dict | None) -> str:
    """`split 2, input='b'`; nested: `split 1, input=7 (in x='a' [0], y='b' [2])`."""
    if not split:
        return ""
    text = f"split {split.get('index')}"
    if split.get("input") is not None:
        text += f", input={shown_value(split['input'])}"
    outer = split.get("outer") or []
    if outer:
        within = ", ".join(f"{level.get('var') or 'split'}={shown_value(level.get('input'))} [{level.get('index')}]"
                           for level in outer)
        text += f" (in {within})"
    return text


def levels(split: dict | None) -> list[dict]:
    """The split's levels, outermost first (one level outside a nested foreach)."""
    if not split:
        return []
    return [*(split.get("outer") or []), split]


def order(split: dict | None) -> tuple:
    """Sorts splits as the foreach made them: outer indices first."""
    return tuple(level.get("index") if level.get("index") is not None else 1 << 30 for level in levels(split)) or \
        (1 << 30,)


def argument(split: dict | None) -> str | int | None:
    """What `split=` takes to name this split and no other: its index, or for a nested foreach
    the indices of every level, outermost first (`"1/0/2"`)."""
    if not split:
        return None
    if not split.get("outer"):
        return split.get("index")
    return "/".join(str(level.get("index")) for level in levels(split))


def choose(candidates: list[tuple[dict | None, object]], wanted: str | int) -> list[object]:
    """The items whose split is `wanted` (`candidates` pairs each item with its split): an input
    value or an index of the innermost level — a value first, so a split given 3 is found by 3 —
    or, for a nested foreach, one value or index per level joined by "/" (`"y/1/30"`, `"1/0/2"`)."""
    if isinstance(wanted, str) and "/" in wanted:
        parts = wanted.split("/")
        nested = [(levels(split), item) for split, item in candidates if len(levels(split)) == len(parts)]
        for matches in (_by_value, _by_index, _by_either):  # all values, all indices, then a mix
            found = [item for path, item in nested if all(map(matches, path, parts))]
            if found:
                return found
        return []
    by_value = [item for split, item in candidates if split and str(split.get("input")) == str(wanted)]
    if by_value:
        return by_value
    try:
        index = int(wanted)
    except (TypeError, ValueError):
        return []
    return [item for split, item in candidates if split and split.get("index") == index]


def _by_value(level: dict, part: str) -> bool:
    return str(level.get("input")) == part


def _by_index(level: dict, part: str) -> bool:
    return part.isdigit() and level.get("index") == int(part)


def _by_either(level: dict, part: str) -> bool:
    return _by_value(level, part) or _by_index(level, part)


def path_text(split: dict | None) -> str:
    """A split's inputs, outermost first, as `split=` takes them: `'y'/1/30`, or `'b'`."""
    return "/".join(shown_value(level.get("input")) for level in levels(split))
