"""Data that do not match, said as what differs: the columns a scikit-learn estimator was fit on
and the ones it was given, the dtypes of a pandas merge's keys on each side, the shapes of the
arrays numpy would not join, the lengths of the inputs a fit was given.

Read in the step process with bridge/inside.py's rule (names, held attributes, constant
subscripts: nothing called), from the failing user line's call and, for scikit-learn, from the
frames of the check that raised (their `X` and estimator are what it compared). Standard library
only; pandas and numpy objects are read through their own attributes.
"""

from __future__ import annotations

import ast
import re

from ..summarize.text import cut_end
from . import inside

MAX_NAMES = 8  # column names listed per side
MAX_FACT_CHARS = 400
_N_FEATURES = re.compile(r"X has (\d+) features?, but (\w+) is expecting (\d+) features?")
_NAMES = re.compile(r"feature names should match|Feature names must be in the same order|columns are missing")
_MERGE_DTYPES = re.compile(r"trying to merge on (\S+) and (\S+) columns(?: for key '([^']+)')?")
_NO_COMMON = re.compile(r"No common columns to perform merge on")
_CONCAT = re.compile(r"input array dimensions except for the concatenation axis must match|"
                     r"all the input arrays must have same number of dimensions")
_SAMPLES = re.compile(r"inconsistent numbers of samples")
_MERGES = ("merge", "join", "merge_asof", "merge_ordered")
_JOINS = ("concatenate", "vstack", "hstack", "stack", "column_stack", "row_stack", "dstack", "concat")


def facts(ex, frame, rec, frames):
    """Lines saying what differs; [] when the message is not about a mismatch we can read."""
    if frame is None:
        return []
    message = str(ex)
    try:
        if _N_FEATURES.search(message) or _NAMES.search(message):
            found = _features(message, frame, rec, frames)
        elif _MERGE_DTYPES.search(message) or _NO_COMMON.search(message):
            found = _merge(message, frame, rec)
        elif _CONCAT.search(message) or _SAMPLES.search(message):
            found = _shapes(frame, rec, message)
        else:
            found = None
    except Exception:
        return []
    return [cut_end(found, MAX_FACT_CHARS)] if found else []


def _user_call(frame, rec, names=None):
    """(call node, text) of the failing line's call, the one with a method in `names` if given."""
    tree, text = inside.failing_tree(rec)
    for node in inside.nodes(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if names is None or name in names:
                return node, text
    return None, text


def _value(node, frame):
    if isinstance(node, (ast.List, ast.Tuple)):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return None
    try:
        return inside.container_value(node, frame)
    except Exception:
        return None


# ---------------------------------------------------------------------------- scikit-learn


def _fitted(est):
    """(column names or None, count or None) an estimator was fit on; a pipeline's first step's."""
    for _ in range(5):
        held = _held(est)
        if "steps" in held and "n_features_in_" not in held:
            steps = [s for _, s, *_ in held["steps"] if s not in (None, "passthrough", "drop")]
            est = steps[0] if steps else None
            continue
        names = held.get("feature_names_in_")
        return ([str(n) for n in names] if names is not None else None), held.get("n_features_in_")
    return None, None


def _held(obj):
    try:
        return vars(obj)
    except TypeError:
        return {}


def _columns(x):
    """(column names or None, count or None) of what was passed as X."""
    kind = inside._kind(x)
    if kind == "DataFrame":
        return [str(c) for c in x.columns], len(x.columns)
    shape = getattr(x, "shape", None) if kind == "ndarray" else None
    if isinstance(shape, tuple) and len(shape) == 2:
        return None, shape[1]
    if isinstance(x, list) and x and isinstance(x[0], (list, tuple)):
        return None, len(x[0])
    return None, None


def _features(message, frame, rec, frames):
    call, text = _user_call(frame, rec)
    owner, est, x_name, candidates = None, None, "X", []
    if call is not None and isinstance(call.func, ast.Attribute):
        est = _value(call.func.value, frame)
        owner = inside.source_of(call.func.value, text)
        if call.args:
            x_name = inside.source_of(call.args[0], text)
            candidates.append(_value(call.args[0], frame))
    checked = None
    for raising in reversed(frames):  # the check that raised compared its own estimator and X
        local = getattr(raising, "f_locals", None) or {}
        for key in ("estimator", "self"):
            if "n_features_in_" in _held(local.get(key)):
                checked = local[key]
                break
        if checked is not None:
            candidates.append(local.get("X"))
            break
    if checked is not None and (est is None or _fitted(est) == (None, None)):
        est, owner = checked, owner or type(checked).__name__
    fit_names, fit_n = _fitted(est) if est is not None else (None, None)
    if fit_n is None:
        return None
    width = _N_FEATURES.search(message)
    wanted = int(width.group(1)) if width else None
    seen = [c for c in (_columns(x) for x in candidates if x is not None) if c[1] is not None]
    named = [c for c in seen if c[0] is not None]
    pick = next((c for c in seen if wanted is not None and c[1] == wanted), None) or (named or seen or [None])[0]
    if pick is None:
        return None
    names, n = pick
    if fit_names is None and names is None:
        return None  # two counts without names: the message says as much
    fit_text = f"{owner} was fit on {fit_n} " + (f"columns: {_list(fit_names)}" if fit_names else
                                                   "features (an array: no column names)")
    given = f"{x_name} has {n}" + (f": {_list(names)}" if names else " (an array: no column names)")
    diff = ""
    if fit_names and names:
        extra = [c for c in names if c not in fit_names]
        missing = [c for c in fit_names if c not in names]
        if extra or missing:
            diff = " — " + "; ".join(p for p in (extra and f"extra: {_list(extra)}",
                                                  missing and f"missing: {_list(missing)}") if p)
        elif names != fit_names:
            diff = f" — the same columns in another order: select them as fit saw them, [{owner}.feature_names_in_]"
    if len(fit_names or []) > MAX_NAMES and diff and not diff.startswith(" — the same"):
        fit_text, given = f"{owner} was fit on {fit_n} columns", f"{x_name} has {n}"
    return f"{fit_text}; {given}{diff}."


def _list(names):
    more = len(names) - MAX_NAMES
    return ", ".join(names[:MAX_NAMES]) + (f" (+{more} more)" if more > 0 else "")


# ---------------------------------------------------------------------------- pandas merge


def _merge(message, frame, rec):
    call, text = _user_call(frame, rec, _MERGES)
    if call is None:
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    receiver = _value(call.func.value, frame) if isinstance(call.func, ast.Attribute) else None
    if inside._kind(receiver) == "DataFrame":  # left.merge(right, ...)
        sides = [call.func.value, keywords.get("right", call.args[0] if call.args else None)]
    else:  # pd.merge(left, right, ...)
        sides = [keywords.get("left", call.args[0] if call.args else None),
                 keywords.get("right", call.args[1] if len(call.args) > 1 else None)]
    if any(s is None for s in sides):
        return None
    frames = [_value(s, frame) for s in sides]
    if any(inside._kind(f) != "DataFrame" for f in frames):
        return None
    names = [inside.source_of(s, text) for s in sides]
    if _NO_COMMON.search(message):
        return "; ".join(f"{n} has columns: {_list([str(c) for c in f.columns])}" for n, f in zip(names, frames)) \
            + ": pass on=, or left_on= and right_on=."
    keys = _keys(keywords, frame, _MERGE_DTYPES.search(message).group(3))
    parts = []
    for (left_key, right_key) in keys:
        for side, df, key in ((names[0], frames[0], left_key), (names[1], frames[1], right_key)):
            if key in df.columns:
                column = df[key]
                parts.append(f"{side}[{key!r}] is {column.dtype}{_example(column)}")
        if len(parts) >= 2:
            break
    if len(parts) < 2:
        return None
    return "; ".join(parts) + ": convert one side to the other's dtype before the merge."


def _keys(keywords, frame, named):
    """(left key, right key) pairs the merge used: on=, or left_on= with right_on=."""
    def texts(node):
        try:
            value = inside.constant(node, frame) if node is not None else None
        except inside.Unsafe:
            if isinstance(node, ast.List):
                return [v for e in node.elts for v in texts(e)]
            return []
        return list(value) if isinstance(value, tuple) else ([value] if value is not None else [])

    on = texts(keywords.get("on"))
    pairs = [(k, k) for k in on] or list(zip(texts(keywords.get("left_on")), texts(keywords.get("right_on"))))
    if named:
        pairs.sort(key=lambda p: named not in p)
        pairs = pairs or [(named, named)]
    return pairs


def _example(column):
    try:
        for value in column.head(20):
            if value is not None and value == value:
                return f" (e.g. {cut_end(repr(value), 30)})"
    except Exception:
        return ""
    return ""


# ---------------------------------------------------------------------------- shapes


def _shapes(frame, rec, message):
    """The shape of each input of the failing call: the arrays numpy would not join, the X and y
    a fit was given."""
    joins = _CONCAT.search(message)
    call, text = _user_call(frame, rec, _JOINS if joins else None)
    if call is None or not call.args:
        return None
    if joins:
        first = call.args[0]
        items = list(first.elts) if isinstance(first, (ast.List, ast.Tuple)) else None
        if items is None:
            value = _value(first, frame)
            if not isinstance(value, (list, tuple)):
                return None
            label = inside.source_of(first, text)
            shown = [(f"{label}[{i}]", v) for i, v in enumerate(value[:6])]
        else:
            shown = [(inside.source_of(e, text), _value(e, frame)) for e in items[:6]]
    else:
        shown = [(inside.source_of(a, text), _value(a, frame)) for a in call.args[:4]]
    parts = [f"{label} {_shape(v)}" for label, v in shown if _shape(v)]
    return "Shapes: " + "; ".join(parts) + "." if len(parts) >= 2 else None


def _shape(value):
    shape = getattr(value, "shape", None) if inside._kind(value) else None
    if isinstance(shape, tuple):
        return "(" + ", ".join(str(n) for n in shape) + ")"
    if isinstance(value, (list, tuple)):
        return f"list of {len(value)}"
    return None
