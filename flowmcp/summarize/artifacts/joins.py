"""Metaflow's own values a step holds: a join's `inputs`, said as the steps they came from."""

from .plumbing import _counted, _ok, _Parts, _safe


def _summarize_join_inputs(value, depth):
    """`Inputs of 2: a, b` or, after a foreach, `Inputs of 3 splits of body` — what the join's code
    reaches as inputs.<step> or inputs[i] (never the flow objects' own attributes)."""
    flows = _safe(lambda: list(vars(value).get("flows") or []))
    if not _ok(flows):
        return _Parts("Inputs (metaflow)")
    steps = [_safe(lambda f=flow: vars(f).get("_current_step")) for flow in flows]
    steps = [s if _ok(s) and isinstance(s, str) else "?" for s in steps]
    if steps and len(set(steps)) == 1 and len(steps) > 1:
        return _Parts(f"Inputs of {_counted(len(steps), 'split')} of {steps[0]} (inputs[i])", shape=[len(steps)])
    return _Parts(f"Inputs of {len(steps)}: {', '.join(steps)} (inputs.<step>)", shape=[len(steps)])

