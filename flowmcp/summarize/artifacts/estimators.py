"""scikit-learn estimators and pipelines (and look-alikes: xgboost, lightgbm): params and fitted state."""

import inspect
import math

from .builtins import (
    _getattrs,
    _pair_lines,
)
from .dispatch import (
    _brief,
)
from .plumbing import (
    MAX_ATTRS_SHOWN,
    MAX_BRIEF_CHARS,
    MAX_CELL_CHARS,
    _cut,
    _label,
    _ok,
    _Parts,
    _qualified_name,
    _safe,
)


def _summarize_estimator(value, depth):
    tp = type(value)
    steps = _pipeline_steps(value)
    if steps is not None:
        return _summarize_pipeline(value, steps, depth)
    params = _safe(_changed_params, value)
    fitted = _safe(_fitted_attributes, value)
    status = "fitted" if _ok(fitted) and fitted else "not fitted"
    if _ok(params):
        inline = _cut(", ".join(f"{k}={_brief(v, depth + 1)}" for k, v in params), MAX_BRIEF_CHARS)
    else:
        inline = str(params)
    parts = _Parts(f"{_label(tp)}({inline}), {status}")
    if depth:
        return parts
    parts.lines.append(f"estimator: {_qualified_name(tp)}")
    if _ok(params) and params:
        parts.lines.append("non-default params:")
        parts.lines.extend("  " + line for line in _pair_lines(params, len(params), depth, "params"))
    elif _ok(params):
        parts.lines.append("params: all defaults")
    if _ok(fitted) and fitted:
        pairs = _getattrs(value, fitted[:MAX_ATTRS_SHOWN])
        parts.lines.append("fitted attributes:")
        parts.lines.extend("  " + line for line in _pair_lines(pairs, len(fitted), depth, "fitted attributes"))
    return parts


def _pipeline_steps(value):
    steps = _safe(lambda: vars(value).get("steps"))
    if type(steps) is list and steps and all(type(s) is tuple and len(s) == 2 for s in steps):
        return steps
    return None


def _summarize_pipeline(value, steps, depth):
    names = " → ".join(_cut(str(name), MAX_CELL_CHARS) for name, _ in steps)
    parts = _Parts(f"{_label(type(value))}({_cut(names, MAX_BRIEF_CHARS)})")
    if not depth:
        parts.lines.extend(f"{name}: {_brief(step, depth + 1)}" for name, step in steps[:MAX_ATTRS_SHOWN])
        if len(steps) > MAX_ATTRS_SHOWN:
            parts.lines.append(f"… {len(steps) - MAX_ATTRS_SHOWN:,} more steps")
    return parts


def _changed_params(estimator):
    """Params that differ from the __init__ defaults, as sklearn's own repr decides it."""
    params = estimator.get_params(deep=False)
    signature = inspect.signature(type(estimator).__init__)
    defaults = {name: p.default for name, p in signature.parameters.items() if p.default is not p.empty}
    return [(k, v) for k, v in params.items() if k not in defaults or not _same(v, defaults[k])]


def _same(value, default):
    if value is default:
        return True
    if type(value) is not type(default):
        return False  # 1 vs 1.0 is a change the user made
    if type(value) is float and math.isnan(value) and math.isnan(default):
        return True
    return _safe(lambda: bool(value == default)) is True  # arrays compare elementwise: "changed"


def _fitted_attributes(estimator):
    """sklearn's own test for fitted: attributes ending in `_`, set by fit()."""
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]
