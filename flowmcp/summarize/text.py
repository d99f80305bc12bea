"""Cutting text to a budget, always saying what was cut. Standard library only (both sides use it).

Two markers, each saying how much is missing: ` … N chars cut … ` in the middle, `…+N chars` at
the end (compact: it ends table cells), so an agent never mistakes a cut answer for the whole one.
Only a budget too small for any marker (a few characters) ends in a bare `…`.
"""

from __future__ import annotations

MIDDLE = " … {:,} chars cut … "
END = "…+{:,} chars"


def cut_middle(text: str, limit: int, *, head: tuple[int, int] = (2, 3), original_length: int | None = None) -> str:
    """`text` within `limit` characters, head and tail kept around the marker; `head` is the
    share of the room the head gets (two thirds: a message's start says most).

    `original_length`: when `text` is itself an excerpt of a longer original (the project's side
    bounds what it sends), the marker counts what is missing from the original; an excerpt that
    fits is returned as it is, since it carries its own marker."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return text
    total = max(original_length or 0, len(text))
    room = max(limit - len(MIDDLE.format(total)), 0)
    kept_head = room * head[0] // head[1]
    kept_tail = room - kept_head
    return text[:kept_head] + MIDDLE.format(total - kept_head - kept_tail) + text[len(text) - kept_tail:]


def cut_end(text: str, limit: int) -> str:
    """`text` within `limit` characters, its start kept (the marker for the whole length is at
    least as long as the real one, so the result always fits when the marker does)."""
    if len(text) <= limit:
        return text
    kept = limit - len(END.format(len(text)))
    if kept < 1:
        return text[: limit - 1] + "…" if limit > 0 else ""
    return text[:kept] + END.format(len(text) - kept)
