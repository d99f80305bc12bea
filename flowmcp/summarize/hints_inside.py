"""Hints from what the failing line looked inside (bridge/inside.py): the keys or fields of an
object read by attribute, how long a sequence indexed past its end is, the keywords a function
takes. hints.py renders each suggestion record by its kind; these are the kinds added here."""

from __future__ import annotations

MAX_NAMES_LISTED = 12


def member(found: dict, _ctx) -> list[str]:
    """`owner.name` on an object that holds keys, columns or fields (a Config, a dict, a recarray)."""
    owner, what, count = found.get("owner"), found.get("what") or "keys", found.get("count", 0)
    close, names, wrong = found.get("close") or [], found.get("names") or [], (found.get("wrong") or ["?"])[0]
    if found.get("item_access"):
        read = f"{owner}[{(close or [wrong])[0]!r}]"
        guess = f"{owner} is a {found.get('owner_type') or 'dict'}: read its keys as {read}. "
    else:
        guess = ("Did you mean " + " or ".join(f"{owner}.{c}" for c in close) + "? ") if close else ""
    return [guess + _listed(owner, what, names, count, close)]


def _listed(owner, what, names, count, close) -> str:
    if count <= MAX_NAMES_LISTED:
        return f"{owner}'s {what} ({count}): {', '.join(repr(n) for n in names) or 'none'}."
    others = [n for n in names if n not in close][:3]
    return f"{owner} has {count:,} {what}" + (f"; others include {', '.join(map(repr, others))}." if others else ".")


def index(found: dict, _ctx) -> list[str]:
    """An index past the end: the length, and the indices that exist."""
    owner, length = found.get("owner"), found.get("length", 0)
    unit = "rows" if found.get("rows") else "items"
    asked = found.get("asked")
    at = f"[{asked}] asked for; " if asked is not None else ""
    if length == 0:
        return [f"{at}{owner} is empty ({found.get('owner_type')} of 0 {unit})."]
    return [f"{at}{owner} has {length:,} {unit}: indices 0 to {length - 1} (or -{length} to -1)."]


def keyword(found: dict, _ctx) -> list[str]:
    """A keyword the callee does not take: the closest it does, and the ones it takes."""
    callee, wrong, close = found.get("callee"), found.get("wrong"), found.get("close") or []
    names, count = found.get("names") or [], found.get("count", 0)
    guess = ("Did you mean " + " or ".join(f"{c}=" for c in close) + f" (not {wrong}=)? ") if close else ""
    ordered = close + [n for n in names if n not in close]
    more = count - min(count, MAX_NAMES_LISTED)
    listing = ", ".join(ordered[:MAX_NAMES_LISTED]) + (f" (+{more} more)" if more > 0 else "")
    return [f"{guess}{callee} takes: {listing}."]


RENDER = {"member": member, "index": index, "keyword": keyword}
