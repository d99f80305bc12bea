"""Secrets never reach an answer, in any form the client decodes.

A secret is the value of an environment variable whose name says so (TOKEN, SECRET, KEY, ...)
and that is long enough not to be an ordinary word. A step may print one, raise one, keep one in
an artifact or draw one in a card; each comes back as `$NAME`:

- text is redacted for the value and for the forms code writes it in: repr and JSON escapes
  (quotes, backslashes, non-ASCII), URL and HTML encodings, and base64 at each of its three
  alignments (a secret inside a longer encoded blob);
- structured results are redacted value by value before they are serialised, so JSON's own
  escaping cannot hide one;
- a card's data, which Metaflow stores base64-encoded in its HTML, is decoded, redacted and
  encoded again, so the card still renders, without the secret.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .config import environ

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSWD|KEY|CREDENTIAL|AUTH|SESSION|COOKIE|PRIVATE", re.IGNORECASE)
MIN_SECRET_CHARS = 8  # shorter values would replace ordinary words
MIN_ENCODED_CHARS = 8  # a base64 fragment shorter than this could match by chance
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


def replacements(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(form, `$NAME`) for every form of every secret: worked out once per answer, not per string."""
    return [(form, f"${name}") for name, value in found for form in dict.fromkeys(forms(value)) if form]


def redact(text: str, replacing: list[tuple[str, str]] | None = None) -> str:
    """`text` with each secret, in each of its forms, replaced by `$NAME`."""
    for form, name in replacements(secrets()) if replacing is None else replacing:
        if form in text:
            text = text.replace(form, name)
    return text


def redact_data(data: Any) -> Any:
    """A JSON-shaped value with every string (keys too) redacted: before it is serialised."""
    found = replacements(secrets())
    if not found:
        return data

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, found)
        if isinstance(value, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return walk(data)


def redact_card(page: str) -> str:
    """A card's HTML with its base64 data decoded, redacted and encoded again, then the page."""
    found = replacements(secrets())
    if not found:
        return page

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
