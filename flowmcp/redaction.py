"""Secrets never reach an answer, in any form the client decodes, whole or in part.

The secrets are read from the caller's environment and from the Metaflow configuration file it
selects (`METAFLOW_HOME`, `METAFLOW_PROFILE`): each variable, and each member of a value that is
a JSON object (`METAFLOW_SERVICE_HEADERS`), is a secret, long enough not to be an ordinary word,
when

- its name says so (TOKEN, SECRET, PASSWORD, KEY, AUTH, ... anywhere in it; PWD, PASS, PAT, PW,
  PSK, DSN as a word of it: `MYSQL_PWD`, `DB_PASS`, `GH_PAT`; not the shell's `PWD`), or what
  follows an authorization scheme in it (`Bearer <token>`);
- it is the password of a URL (`postgres://user:<password>@host`, in `DATABASE_URL` or any other);
- it looks random, whatever its name: one token of 20 characters or more mixing capitals, small
  letters and digits, not made of words, or 32 hex digits or more (`random_looking`).

A token of a known shape (GitHub, Slack, AWS, Google, Stripe, API keys, JWTs: `TOKEN_SHAPES`) is
one wherever it came from, and so is any URL's password. A step may print one, raise one, keep
one in an artifact or draw one in a card; each comes back as `$NAME`, or `[redacted <shape>]`:

- text is redacted for the value and for the forms code writes it in: repr and JSON escapes
  (quotes, backslashes, non-ASCII), URL and HTML encodings, hex, and base64 at each of its three
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
import math
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from .caller import environ

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSWD|KEY|CREDENTIAL|AUTH|SESSION|COOKIE|PRIVATE"
                         r"|(?:^|[^A-Za-z])(?:PWD|PASS|PAT|PW|PSK|DSN)(?:[^A-Za-z]|$)", re.IGNORECASE)
NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})  # the shell's working folders
MIN_SECRET_CHARS = 8  # shorter values would replace ordinary words
# A value that looks random is a secret whatever its name (see random_looking)
MIN_RANDOM_CHARS = 20
MIN_HEX_DIGITS = 32
MAX_RANDOM_CHARS = 4096
MIN_RANDOM_BITS = 3.5  # Shannon entropy per character: a random 20-character token has over 4
MIN_HEX_BITS = 3.0  # of random hex digits, 32 or more: about 3.8
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~-]+")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_AUTH_SCHEME = re.compile(r"^\s*(?:Bearer|Basic|Token|Digest|Negotiate)\s+(\S+)\s*$", re.IGNORECASE)
# A URL's password, `scheme://user:password@`, in any text: group 2
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:\[\]]*:)([^\s/?#@]+)(@)")
URL_PASSWORD_SHOWN = "[redacted password]"
CONFIG_RECHECK_S = 1.0  # how often the Metaflow configuration file is looked at again
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
    """(name, value) of the secrets of the caller's environment and Metaflow configuration,
    longest first (one secret inside another is replaced as the longer one)."""
    env = environ()
    return list(_secrets(tuple(env.items()), _config_state(env)))


@lru_cache(maxsize=16)  # every cut asks again; the environment and the configuration rarely change
def _secrets(items: tuple[tuple[str, str], ...], config: tuple | None) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for name, value in (*items, *_config_values(config)):
        for secret in _secret_parts(name, value):
            found.setdefault(secret, name)
    return tuple(sorted(((name, value) for value, name in found.items()), key=lambda item: -len(item[1])))


def _secret_parts(name: str, value: Any, named: bool = False) -> Iterator[str]:
    """The secrets in one variable's value (`named`: a secret by its name, from an outer one)."""
    if isinstance(value, Mapping):
        for key, member in value.items():
            yield from _secret_parts(str(key), member, named)
        return
    if isinstance(value, (list, tuple)):
        for member in value:
            yield from _secret_parts(name, member, named)
        return
    if not isinstance(value, str):
        return
    named = named or (bool(SECRET_NAME.search(name)) and name.upper() not in NOT_SECRET_NAMES)
    if named and len(value) >= MIN_SECRET_CHARS:
        yield value
        scheme = _AUTH_SCHEME.match(value)
        if scheme and len(scheme.group(1)) >= MIN_SECRET_CHARS:
            yield scheme.group(1)
    if "://" in value:
        for match in _URL_PASSWORD.finditer(value):
            password = match.group(2)
            for form in {password, urllib.parse.unquote(password)}:
                if len(form) >= MIN_SECRET_CHARS:
                    yield form
    if value.lstrip().startswith("{"):
        try:
            members = json.loads(value)
        except ValueError:
            members = None
        if isinstance(members, dict):
            yield from _secret_parts(name, members)
    if random_looking(value):
        yield value


def random_looking(value: str) -> bool:
    """Whether `value` looks like a generated secret: one token, not a path, either 32 hex
    digits or more (dashes aside: UUIDs) or 20 characters or more mixing capitals, small letters
    and digits with enough entropy per character. (A CamelCase name with a digit in it passes
    too: shown as `$NAME`, it costs a detail, where a missed secret would leak.)"""
    if not MIN_RANDOM_CHARS <= len(value) <= MAX_RANDOM_CHARS or not _TOKEN.fullmatch(value):
        return False
    if value[0] in "/.~" and os.path.exists(os.path.expanduser(value)):  # a path (base64 may start with a slash)
        return False
    digits = value.replace("-", "")
    if len(digits) >= MIN_HEX_DIGITS and _HEX.fullmatch(digits):
        return not digits.isdigit() and not digits.isalpha() and _bits(digits) >= MIN_HEX_BITS
    if not (any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)):
        return False
    return _bits(value) >= MIN_RANDOM_BITS


def _bits(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


_config_checked: dict[str, tuple[float, tuple | None]] = {}


def _config_state(env: Mapping[str, str]) -> tuple | None:
    """(path, mtime, size) of the Metaflow configuration file the caller's environment selects,
    as Metaflow finds it (`metaflow_config_funcs.init_config`); None when there is none."""
    home = env.get("METAFLOW_HOME", "~/.metaflowconfig")
    if home.startswith("~") and env.get("HOME"):
        home = env["HOME"] + home[1:]
    profile = env.get("METAFLOW_PROFILE")
    path = os.path.expanduser(os.path.join(home, f"config_{profile}.json" if profile else "config.json"))
    now = time.monotonic()
    checked_at, state = _config_checked.get(path, (-CONFIG_RECHECK_S, None))
    if now - checked_at >= CONFIG_RECHECK_S:
        try:
            info = os.stat(path)
            state = (path, info.st_mtime_ns, info.st_size)
        except OSError:
            state = None
        if len(_config_checked) > 16:
            _config_checked.clear()
        _config_checked[path] = (now, state)
    return state


@lru_cache(maxsize=4)
def _config_values(state: tuple | None) -> tuple[tuple[str, Any], ...]:
    if state is None:
        return ()
    try:
        with open(state[0], encoding="utf-8") as config:
            values = json.load(config)
    except (OSError, ValueError):
        return ()
    return tuple((str(k), v) for k, v in values.items()) if isinstance(values, dict) else ()


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
    yield raw.hex()
    yield raw.hex().upper()
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
    if "://" in text:
        text = _URL_PASSWORD.sub(_password_redacted, text)
    text = _cut_parts(text, found)
    for shape, name in _SHAPES:
        text = shape.sub(lambda match, name=name: _unless_inside_a_word(match, name), text)
    return text


def _password_redacted(match: re.Match) -> str:
    """A URL's password as URL_PASSWORD_SHOWN (one already a `$NAME` stays so)."""
    if match.group(2).startswith("$"):
        return match.group(0)
    return match.group(1) + URL_PASSWORD_SHOWN + match.group(3)


def without_passwords(text: str) -> str:
    """`text` with every URL's password redacted (for what shows a configured URL)."""
    return _URL_PASSWORD.sub(_password_redacted, text) if "://" in text else text


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
