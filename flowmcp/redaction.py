"""Secrets never reach an answer, in any form the client decodes, whole or in part.

A secret is the value of an environment variable whose name says so (TOKEN, SECRET, KEY, ...)
and that is long enough not to be an ordinary word; a token of a known shape (GitHub, Slack,
AWS, Google, Stripe, API keys, JWTs: `TOKEN_SHAPES`) is one wherever it came from. A step may
print one, raise one, keep one in an artifact or draw one in a card; each comes back as `$NAME`,
or `[redacted <shape>]`:

- text is redacted for the value and for the forms code writes it in: repr and JSON escapes
  (quotes, backslashes, non-ASCII), URL and HTML encodings, and base64 at each of its three
  alignments (a secret inside a longer encoded blob);
- a cut never shows part of one: every cut of ours (`summarize/text.py`, the artifact
  summaries, on both sides) redacts before it cuts, and what a cut made elsewhere leaves (a
  library's repr, a log line cut in bytes) — a secret's start or end of MIN_FRAGMENT_CHARS or
  more beside a cut's marker, a token's shape cut short — is redacted as the whole;
- structured results are redacted value by value before they are serialised, so JSON's own
  escaping cannot hide one;
- a card's data, which Metaflow stores base64-encoded in its HTML, is decoded, redacted and
  encoded again, so the card still renders, without the secret.

Standard library only: the project's interpreter redacts what its summaries cut, with its own
environment (a job's is its caller's).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import urllib.parse
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from .caller import environ

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSWD|KEY|CREDENTIAL|AUTH|SESSION|COOKIE|PRIVATE", re.IGNORECASE)
MIN_SECRET_CHARS = 8  # shorter values would replace ordinary words
MIN_ENCODED_CHARS = 8  # a base64 fragment shorter than this could match by chance
# A secret's start or end this long, left by a cut, is redacted; a shorter one says next to nothing.
MIN_FRAGMENT_CHARS = 8
# A cut's marker, ours (`…`, or JSON's `\u2026`) or a library's (`...`: reprlib, pandas); beside
# it, what the cut kept.
_CUT_MARKERS = ("…", "...", "\\u2026")
_CUT_MARKER = re.compile("|".join(map(re.escape, _CUT_MARKERS)))
_CUT_FOLLOWS = f"""(?=['"]?\\s?(?:{_CUT_MARKER.pattern}))"""
# Tokens known by their shape, whole or cut. A distinctive prefix needs MIN_FRAGMENT_CHARS after
# it; a common one (AKIA, sk-) the token's whole body, or a cut's marker right after. Each pattern
# starts with a literal, which is what keeps a scan of a megabyte at a millisecond.
TOKEN_SHAPES = (
    ("GitHub token", r"gh[pousr]_[A-Za-z0-9]{8,}|github_pat_[A-Za-z0-9_]{8,}"),
    ("Slack token", r"xox[abposr]-[A-Za-z0-9-]{8,}"),
    ("Google API key", r"AIza[A-Za-z0-9_-]{8,}"),
    ("Stripe key", r"[rs]k_(?:live|test)_[A-Za-z0-9]{8,}"),
    ("AWS access key id", r"(?:AKIA|ASIA)(?:[A-Z2-7]{16}(?![A-Za-z0-9])|[A-Z2-7]{8,15}" + _CUT_FOLLOWS + ")"),
    ("API key", r"sk-(?:ant-|proj-)?(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9_-]{8,}" + _CUT_FOLLOWS),
    ("JWT", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"),
)
_SHAPES = [(re.compile(pattern), f"[redacted {what}]") for what, pattern in TOKEN_SHAPES]
# Metaflow cards keep their data as base64 JSON: window.__MF_DATA__["<id>"] = "<base64>"
_CARD_DATA = re.compile(r'(__MF_DATA__\[\s*"[^"]*"\s*\]\s*=\s*")([A-Za-z0-9+/=]+)(")')


def secrets() -> list[tuple[str, str]]:
    """(name, value) of the secret-looking variables of the caller's environment, longest first
    (one secret inside another is replaced as the longer one)."""
    found = [(name, value) for name, value in environ().items()
             if len(value) >= MIN_SECRET_CHARS and SECRET_NAME.search(name)]
    return sorted(found, key=lambda item: -len(item[1]))


def forms(value: str) -> Iterator[str]:
    """Every way `value` is written in text code produces."""
    yield value
    yield repr(value)[1:-1]
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value)
    yield html.escape(value)
    raw = value.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw).decode("ascii")
            # the characters that depend on the secret's bytes alone (none of the padding's)
            core = encoded[-(-8 * offset // 6):(8 * (offset + len(raw))) // 6]
            if len(core) >= MIN_ENCODED_CHARS:
                yield core


def replacements(found: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(form, `$NAME`) for every form of every secret: worked out once per answer, not per string."""
    return _replacements(tuple(found))


@lru_cache(maxsize=16)  # every cut asks again; the environment rarely changes
def _replacements(found: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((form, f"${name}") for name, value in found for form in dict.fromkeys(forms(value)) if form)


def redact(text: str, replacing: tuple[tuple[str, str], ...] | None = None) -> str:
    """`text` with each secret, in each of its forms, replaced by `$NAME`, and with what cuts
    left of one: its start or end beside a cut's marker, a token's shape."""
    found = replacements(secrets()) if replacing is None else replacing
    for form, name in found:
        if form in text:
            text = text.replace(form, name)
    text = _cut_parts(text, found)
    for shape, name in _SHAPES:
        text = shape.sub(lambda match, name=name: _unless_inside_a_word(match, name), text)
    return text


def _cut_parts(text: str, found: tuple[tuple[str, str], ...]) -> str:
    """`text` with the start or the end of a secret's form that a cut left — MIN_FRAGMENT_CHARS
    or more of it, beside the cut's marker — replaced by its `$NAME`."""
    if not found or not any(marker in text for marker in _CUT_MARKERS):
        return text
    pieces = _pieces(found)
    spans = []
    for marker in _CUT_MARKER.finditer(text):
        end = _beside(text, marker.start(), -1)  # a kept start ends here: text[end - k:end] == form[:k]
        candidates = pieces.get(text[end - MIN_FRAGMENT_CHARS:end], ()) if end >= MIN_FRAGMENT_CHARS else ()
        kept = [(k, name) for form, name, offset in candidates for k in (offset + MIN_FRAGMENT_CHARS,)
                if k <= end and text.startswith(form[:k], end - k)]
        if kept:
            k, name = max(kept)
            spans.append((end - k, end, name))
        start = _beside(text, marker.end(), 1)  # a kept end starts here: text[start:start + k] == form[-k:]
        candidates = pieces.get(text[start:start + MIN_FRAGMENT_CHARS], ())
        kept = [(len(form) - offset, name) for form, name, offset in candidates
                if text.startswith(form[offset:], start)]
        if kept:
            k, name = max(kept)
            spans.append((start, start + k, name))
    for start, end, name in sorted(spans, reverse=True):
        text = text[:start] + name + text[end:]
    return text


@lru_cache(maxsize=16)
def _pieces(found: tuple[tuple[str, str], ...]) -> dict[str, list[tuple[str, str, int]]]:
    """Every MIN_FRAGMENT_CHARS-long piece of every form longer than that: where it is."""
    pieces: dict[str, list[tuple[str, str, int]]] = {}
    for form, name in found:
        for offset in range(len(form) - MIN_FRAGMENT_CHARS + 1 if len(form) > MIN_FRAGMENT_CHARS else 0):
            pieces.setdefault(form[offset:offset + MIN_FRAGMENT_CHARS], []).append((form, name, offset))
    return pieces


def _beside(text: str, index: int, step: int) -> int:
    """Where the kept text ends (step -1) or starts (1) beside a marker at `index`: past one
    space and one quote (`'abc'…`, `… 12 chars cut … abc`)."""
    for chars in (" ", "'\""):
        near = index if step > 0 else index - 1
        if 0 <= near < len(text) and text[near] in chars:
            index += step
    return index


def _unless_inside_a_word(match: re.Match, name: str) -> str:
    """`name` for a token that starts where a word does (`task-id` holds no `sk-` token)."""
    start = match.start()
    return match.group(0) if start and match.string[start - 1].isalnum() else name


def redact_data(data: Any) -> Any:
    """A JSON-shaped value with every string (keys too) redacted: before it is serialised."""
    found = replacements(secrets())

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, found)
        if isinstance(value, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        return value

    return walk(data)


def redact_card(page: str) -> str:
    """A card's HTML with its base64 data decoded, redacted and encoded again, then the page."""
    found = replacements(secrets())

    def data(match: re.Match) -> str:
        try:
            decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return match.group(0)
        clean = redact(decoded, found)
        if clean == decoded:
            return match.group(0)
        return match.group(1) + base64.b64encode(clean.encode("utf-8")).decode("ascii") + match.group(3)

    return redact(_CARD_DATA.sub(data, page), found)
