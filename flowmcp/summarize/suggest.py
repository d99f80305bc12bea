"""Did-you-mean by the interpreter's own rule, so our suggestions never contradict Python's.

CPython (3.10+) suggests a name for AttributeError and NameError (3.12+ also for ImportError's
"cannot import name") with a weighted edit distance: changing a character's case costs 1, any
other insertion, deletion or substitution costs 2, and a candidate counts only if at most a third
of the characters involved change. The closest candidate wins; a tie goes to the first in the
order the candidates were listed (sorted `dir()` for attributes; locals, globals, builtins for
names). `python_suggestion` gives Python's one answer, `closest` the best few in the same order
— its first is always Python's choice. tests/test_suggest.py checks both against the running
interpreter's own suggestions.

The rule differs a little between versions, and this follows the interpreter it runs in (the
step's own). The C implementation (3.10, 3.11, and 3.13+ through its `_suggestions` module) gives
up at 750 candidates. The pure-Python one of 3.12 never suggests a name that needs as many edits
as the wrong name has characters, and gives up above 750. tests/test_suggest.py checks each
interpreter found on the machine.

Standard library only and Python 3.9-compatible: the step process imports it (bridge/capture.py).
"""

from __future__ import annotations

import sys

CASE_COST = 1
MOVE_COST = 2
MAX_NAME_CHARS = 40  # longer names are never matched (as CPython)
MAX_PYTHON_CANDIDATES = 750  # CPython offers nothing when there are this many candidates (3.12: more)


def _pure_python_rule():
    """3.12 computes suggestions in traceback.py; 3.10, 3.11 and 3.13+ in C."""
    if sys.version_info < (3, 12):
        return False
    import importlib.util

    return importlib.util.find_spec("_suggestions") is None


_CAPPED_BY_LENGTH = _pure_python_rule()


def distance(a, b, limit):
    """Weighted edit distance of `a` and `b`, or any value above `limit` once it must exceed it."""
    if a == b:
        return 0
    # What the two share at either end costs nothing: compare only the middles.
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    if not a or not b:
        return MOVE_COST * (len(a) + len(b))
    if len(a) > MAX_NAME_CHARS or len(b) > MAX_NAME_CHARS:
        return limit + 1
    if len(b) < len(a):
        a, b = b, a
    if (len(b) - len(a)) * MOVE_COST > limit:
        return limit + 1
    # One row of the classic table, updated in place: row[i] = cost of b[:j] vs a[:i + 1].
    row = [MOVE_COST * (i + 1) for i in range(len(a))]
    result = 0
    for j, b_char in enumerate(b):
        diagonal = result = j * MOVE_COST
        smallest = None
        for i, a_char in enumerate(a):
            if a_char == b_char:
                substitute = diagonal
            elif a_char.lower() == b_char.lower():
                substitute = diagonal + CASE_COST
            else:
                substitute = diagonal + MOVE_COST
            diagonal = row[i]
            result = min(min(result, diagonal) + MOVE_COST, substitute)
            row[i] = result
            smallest = result if smallest is None else min(smallest, result)
        if smallest is not None and smallest > limit:
            return limit + 1
    return result


def _allowed(wrong, candidate):
    """At most a third of the characters involved may change (3.12+: and never the whole name)."""
    limit = (len(candidate) + len(wrong) + 3) * MOVE_COST // 6
    return min(limit, len(wrong) - 1) if _CAPPED_BY_LENGTH else limit


def closest(wrong, candidates, n=3):
    """Up to `n` candidates within Python's threshold, closest first, ties in the given order."""
    if not isinstance(wrong, str) or not wrong or len(wrong) > MAX_NAME_CHARS:
        return []
    scored = []
    for order, candidate in enumerate(candidates):
        if not isinstance(candidate, str) or candidate == wrong:
            continue  # the missing name itself is never an answer
        limit = _allowed(wrong, candidate)
        if limit < 0:
            continue
        cost = distance(wrong, candidate, limit)
        if cost <= limit:
            scored.append((cost, order, candidate))
    scored.sort()
    seen, out = set(), []
    for _, _, candidate in scored:
        if candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
        if len(out) >= n:
            break
    return out


def python_suggestion(wrong, candidates):
    """The one name Python itself would suggest from these candidates, or None."""
    candidates = list(candidates)
    if len(candidates) > MAX_PYTHON_CANDIDATES - (0 if _CAPPED_BY_LENGTH else 1):
        return None
    found = closest(wrong, candidates, n=1)
    return found[0] if found else None


def public(names, wrong):
    """Python hides `_private` names unless the wrong name is one itself (3.12+)."""
    if wrong[:1] == "_":
        return list(names)
    return [n for n in names if not str(n).startswith("_")]
