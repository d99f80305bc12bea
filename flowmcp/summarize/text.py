"""Cutting text to a budget, always saying what was cut. Standard library only (both sides use it).

Two markers, each saying how much is missing: ` … N chars cut … ` in the middle, `…+N chars` at
the end (compact: it ends table cells), so an agent never mistakes a cut answer for the whole one.
Only a budget too small for any marker (a few characters) ends in a bare `…`. Text is redacted
before it is cut: a cut through a secret would leave part of it that no longer reads as one.
"""

from __future__ import annotations

import re

from ..redaction import redact

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
    text = redact(text)
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
    text = redact(text)
    if len(text) <= limit:
        return text
    kept = limit - len(END.format(len(text)))
    if kept < 1:
        return text[: limit - 1] + "…" if limit > 0 else ""
    return text[:kept] + END.format(len(text) - kept)


LONG_MESSAGE_LINES = 3  # a message longer than this (or than LONG_MESSAGE_CHARS) is condensed
LONG_MESSAGE_CHARS = 320
KEPT_MESSAGE_CHARS = 240
_URL = re.compile(r"<?https?://[^\s<>\"')\]]+>?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])|\n+")
# A URL with the words that only point at it: "see URL", "(URL)", "URL for more details"
_URL_PHRASE = re.compile(r"(?i)[,;]?\s*\(?\s*(?:(?:please\s+)?(?:see|visit|refer\s+to|check(?:\s+out)?|read|consult)"
                         r"(?:\s+also)?\s*:?\s*)?" + _URL.pattern +
                         r"(?:\s*\))?(?:\s+for\s+(?:more\s+)?(?:details|info(?:rmation)?|more|an?\s+\w+))?")


def condense_message(message: str, original_length: int | None = None) -> str:
    """A library's exception message as the first sentences an agent needs.

    URLs are dropped unless they are the whole message (an agent cannot follow them, and the
    sentence that only pointed at one goes with it). A message longer than a few lines keeps its
    first sentences up to KEPT_MESSAGE_CHARS and says how much of the rest was cut; one long
    sentence (a list, a repr) keeps its start and its end. `original_length`: the length of the
    message `message` is an excerpt of (the step process bounds what it sends)."""
    text = message.strip()
    if not text or _URL.fullmatch(text):
        return message
    sentences = [s for s in (_drop_urls(s) for s in _SENTENCE_END.split(text)) if s]
    condensed = " ".join(s.strip() for s in sentences) if _URL.search(text) else text
    if not condensed:
        return message  # nothing but a pointer to a page: the page is the message
    if condensed.count("\n") < LONG_MESSAGE_LINES and len(condensed) <= LONG_MESSAGE_CHARS:
        return condensed
    flat = [" ".join(s.split()) for s in sentences]
    whole = " ".join(flat)
    total = max(original_length or 0, len(whole))
    if len(flat[0]) > KEPT_MESSAGE_CHARS * 2:
        return cut_middle(whole, KEPT_MESSAGE_CHARS * 2, original_length=total)
    kept: list[str] = []
    for sentence in flat:
        if kept and len(" ".join(kept)) + 1 + len(sentence) > KEPT_MESSAGE_CHARS:
            break
        kept.append(sentence)
    head = " ".join(kept)
    rest = total - len(head)
    return head if rest <= 1 else f"{head} [… {rest:,} more chars of the message cut]"


def _drop_urls(sentence: str) -> str:
    """The sentence without its URLs; empty when it was only there to point at one."""
    if not _URL.search(sentence):
        return sentence.strip()
    stripped = " ".join(_URL_PHRASE.sub("", sentence).split())
    return "" if not stripped or stripped.endswith(":") else stripped
