"""Turn the JSON parameters an agent sends into the strings the flow's CLI expects.

The types come from the flow's declared Parameters (the driver's `describe`), so `0.5` and
`"0.5"` both work for a float, and a typo gets the list of valid names.
"""

from __future__ import annotations

import difflib
import json
import math
import sys
from typing import Any

from ..errors import BadArgumentError
from ..summarize.text import cut_end

SHOWN_CHARS = 80  # of a refused value, echoed back
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def to_cli(declared: list[dict[str, Any]], given: dict[str, Any]) -> list[tuple[str, str]]:
    """[(cli_name, value_string)] for `given`, checked against `declared`; raises BadArgumentError."""
    by_name = {}
    for p in declared:
        by_name[p["name"]] = p
        by_name.setdefault(p["name"].replace("-", "_"), p)
    out = []
    for name, value in given.items():
        param = by_name.get(name) or by_name.get(str(name).replace("-", "_"))
        if param is None:
            raise BadArgumentError(_unknown(name, declared))
        out.append((param["name"], _convert(param, value)))
    missing = [p["name"] for p in declared if p.get("required") and p["name"] not in {n for n, _ in out}]
    if missing:
        raise BadArgumentError(
            f"Missing required parameter(s): {', '.join(missing)}. {describe(declared)}"
        )
    return out


def describe(declared: list[dict[str, Any]]) -> str:
    if not declared:
        return "This flow declares no parameters."
    items = []
    for p in declared:
        default = "" if p.get("required") else f"={json.dumps(p.get('default'), default=str)}"
        items.append(f"{p['name']} ({p['type']}{default})")
    return "Valid parameters: " + ", ".join(items) + "."


def _unknown(name: Any, declared: list[dict[str, Any]]) -> str:
    names = [p["name"] for p in declared]
    close = difflib.get_close_matches(str(name), names, n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown parameter {name!r}.{hint} {describe(declared)}"


def _convert(param: dict[str, Any], value: Any) -> str:
    kind, name = param.get("type", "str"), param["name"]

    def bad(expected: str) -> BadArgumentError:
        return BadArgumentError(
            f"Parameter {name!r} is {kind}; got {_shown(value)} "
            f"({type(value).__name__}). Pass {expected}."
        )

    if kind == "json":
        if isinstance(value, str):
            # JSON text, as the CLI takes it; text that does not parse is refused as the CLI
            # refuses it (never quietly passed on as a JSON string the step did not expect)
            try:
                json.loads(value)
            except ValueError as ex:
                raise BadArgumentError(
                    f"Parameter {name!r} is json; got {cut_end(value, SHOWN_CHARS)!r}, which is not valid JSON "
                    f"({ex}). Pass the value itself (an object, a list, a number) or JSON text with double-quoted keys."
                ) from None
            return value
        return json.dumps(value)
    if value is None:
        raise bad("a value (null is not a parameter value)")
    if kind == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return "true" if value.strip().lower() in _TRUE else "false"
        if isinstance(value, int) and value in (0, 1):
            return "true" if value else "false"
        raise bad("true or false")
    if kind == "int":
        if isinstance(value, bool):
            raise bad("an integer such as 3")
        if isinstance(value, int):
            try:
                return str(value)
            except ValueError:  # more digits than Python turns into text, nor would the flow's int()
                raise bad(f"an integer of at most {sys.get_int_max_str_digits()} digits") from None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, str):
            try:
                return str(int(value.strip()))
            except ValueError:
                pass
        raise bad("an integer such as 3")
    if kind == "float":
        if isinstance(value, bool):
            raise bad("a number such as 0.5")
        if isinstance(value, (int, float)):
            try:
                number = float(value)
            except OverflowError:  # an integer of more than 308 digits
                raise bad("a number a float can hold (at most about 1.8e308), such as 0.5") from None
            if math.isfinite(number):
                return repr(number)
        if isinstance(value, str):
            try:
                number = float(value.strip())
                if math.isfinite(number):
                    return repr(number)
            except ValueError:
                pass
        raise bad("a number such as 0.5")
    # str and anything else the CLI parses itself
    if isinstance(value, (dict, list)):
        raise bad("a string")
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = str(value)
    except ValueError:  # an integer with more digits than Python turns into text
        raise bad("a string") from None
    if "\x00" in text:
        raise bad("a string without NUL characters")
    return text


def _shown(value: Any) -> str:
    try:
        return cut_end(json.dumps(value, default=str), SHOWN_CHARS)
    except ValueError:  # an integer with more digits than Python turns into text
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
