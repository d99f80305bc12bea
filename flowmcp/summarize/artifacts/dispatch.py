"""Which summarizer a value gets, and the one-line forms of values nested in others."""

import enum

from .plumbing import (
    _SCALAR_MODULES,
    MAX_BRIEF_CHARS,
    MAX_CELL_CHARS,
    MAX_DEPTH,
    MAX_STR_HEAD,
    _cut,
    _has,
    _label,
    _mro_names,
    _number_text,
    _ok,
    _Parts,
    _safe,
    _safe_repr,
    _safe_str,
    _short_float,
    _str_head,
    _top_module,
)

# The handler table (handlers.py) registers itself here when it is imported: every handler module
# uses this module's briefs for the values nested in its own, so this module cannot import them.
_handler_for = None


def use_handlers(handler_for):
    """Take the function that picks a type's handler (handlers.py calls this once, at import)."""
    global _handler_for
    _handler_for = handler_for


def _extract(value, depth):
    """Summarize value with the handler for its type; a handler that fails leaves the type's name."""
    tp = type(value)  # never value.__class__, which the value itself controls
    parts = _safe(lambda: _handler_for(tp)(value, depth))
    return parts if _ok(parts) else _Parts(f"{_label(tp)} {parts}")


def _is_short_repr_type(tp):
    if issubclass(tp, (enum.Enum, range, slice)):
        return True
    # pandas containers were dispatched already; what is left (Timestamp, NaT...) is a scalar.
    return _top_module(tp) in _SCALAR_MODULES and not _has(tp, "__len__")


def _brief(value, depth):
    """One line for a value nested in another: a scalar's repr, else its headline."""
    text = _inline(value)
    if text is None:
        text = _label(type(value)) if depth > MAX_DEPTH else _extract(value, depth).headline
    return _cut(text.replace("\n", " "), MAX_BRIEF_CHARS)


def _inline(value):
    """A scalar as it would be written (`0.5`, `'abc'`, `None`), or None for anything bigger."""
    tp = type(value)
    if "numpy.generic" in _mro_names(tp):
        return _safe_str(value, MAX_BRIEF_CHARS)
    if issubclass(tp, str):
        text = _safe(_str_head, value, MAX_STR_HEAD)  # a str subclass may break slicing
        return str(text)
    if value is None or issubclass(tp, (bool, int, float, complex)):
        return str(_safe(_number_text, value))
    if _is_short_repr_type(tp):
        return _safe_repr(value)
    return None


def _cell(value):
    """A table cell: str for numbers and dates (as pandas prints them), quoted strings, briefs."""
    tp = type(value)
    if issubclass(tp, str):
        return _str_head(value, MAX_CELL_CHARS, note=False)
    names = _mro_names(tp)
    if issubclass(tp, float) or "numpy.floating" in names:
        return str(_safe(_short_float, value))
    if value is None or issubclass(tp, (int, complex)) or "numpy.generic" in names:
        return _safe_str(value, MAX_CELL_CHARS)
    if "numpy.ndarray" in names and getattr(value, "ndim", None) == 0:  # np.ma.masked prints `--`
        return _safe_str(value, MAX_CELL_CHARS)
    if _is_short_repr_type(tp):
        return _safe_str(value, MAX_CELL_CHARS)
    return _cut(_brief(value, MAX_DEPTH), MAX_CELL_CHARS)
