"""Short, bounded, true descriptions of any Python value (a Metaflow artifact), for an agent to read.

Loaded into the user's interpreter through flowmcp's loader: standard library only; a library is
used only through its own values. One module per kind of value (`builtins`, `tables`, `arrays`,
`estimators`); `handlers` picks the module for a value, `plumbing` holds the limits and tools.
"""

from . import (
    arrays,  # noqa: F401 (the array limits live there; tests shrink them)
    handlers,  # noqa: F401 (registers the handler table with dispatch)
)
from .dispatch import _extract
from .plumbing import (  # noqa: F401 (the limits are part of the summarizer's face)
    MAX_ATTRS_SHOWN,
    MAX_BRIEF_CHARS,
    MAX_CHARS,
    MAX_ITEMS_SHOWN,
    MAX_KEYS_SHOWN,
    MAX_ROWS_SHOWN,
    _as_int,
    _cut,
    _fit_lines,
    _qualified_name,
)


def summarize(value, max_chars: int = MAX_CHARS) -> dict:
    """Describe value as {"type", "shape", "size_bytes", "summary", "detail"}, JSON-serialisable.

    Never raises; len(summary) + len(detail) <= max_chars, with room left for describe()'s newline.
    """
    budget = max(_as_int(max_chars) or 0, 0)
    parts = _extract(value, depth=0)
    summary = _cut(parts.headline.replace("\n", " "), budget)
    return {
        "type": _qualified_name(type(value)),
        "shape": parts.shape,
        "size_bytes": parts.size_bytes,
        "summary": summary,
        "detail": _fit_lines(parts.lines, budget - len(summary) - 1),
    }


def describe(value, max_chars: int = MAX_CHARS) -> str:
    """The text form of summarize(): the headline, then the detail lines. Never raises."""
    result = summarize(value, max_chars)
    if result["detail"]:
        return result["summary"] + "\n" + result["detail"]
    return result["summary"]


ONE_LINE_CHARS = 160  # a value on the failing line, a local, a key


def one_line(value, limit: int = ONE_LINE_CHARS) -> str:
    """A value's headline alone (`DataFrame 1,000×6`, `'abc'`); a value that even describe()
    cannot read is named by its type and object id. Never raises."""
    try:
        return describe(value, max_chars=limit).split("\n", 1)[0]
    except Exception:
        pass
    try:
        text = f"{type(value).__name__}: {object.__repr__(value)}"
    except Exception as ex:
        text = f"<unavailable: {type(ex).__name__}>"
    return text[:limit]
