"""In a step process, when the step raised: the values of the flow's Parameters as the step saw
them, with their Python type (a `'5'` where the code expects 5 is the failure). The server matches
them with the Parameters' declarations (summarize/rules.py). Standard library and Metaflow only."""

MAX_PARAMETERS = 12
VALUE_CHARS = 60
_PLAIN = (str, int, float, bool, type(None), dict, list, tuple)


def parameter_values(flow, names):
    """{name: {"value": short text, "type": Python type}} for the flow's Parameters."""
    out = {}
    for name in sorted(names)[:MAX_PARAMETERS]:
        try:
            value = getattr(flow, name)
        except Exception:
            continue  # not loadable here: said by nothing rather than wrongly
        out[name] = {"value": _short(value), "type": type(value).__name__}
    return out


def _short(value):
    try:
        text = repr(value) if isinstance(value, _PLAIN) else "<%s>" % type(value).__name__
    except Exception as ex:  # never fail while describing a failure
        return "<unavailable: %s>" % type(ex).__name__
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
