"""Redaction in every encoding, as pure functions (flowmcp/redaction.py); tests/test_secrets.py
drives the same token through real flows, tools, resources and cards."""

from __future__ import annotations

import base64
import json
import urllib.parse

from flowmcp import redaction

TOKEN = 'tök-"9f8e\\7d6c5b4a'  # a quote, a backslash and a non-ASCII letter: each escaped somewhere


def _leaks(blob: str) -> list[str]:
    """The forms of TOKEN found in `blob`."""
    raw = TOKEN.encode()
    candidates = {"raw": TOKEN, "repr": repr(TOKEN)[1:-1], "json": json.dumps(TOKEN)[1:-1],
                  "url": urllib.parse.quote(TOKEN, safe=""), "base64": base64.b64encode(raw).decode()[:-4],
                  "the letters": "9f8e"}
    return [name for name, form in candidates.items() if form in blob]


def test_every_form_is_found_inside_longer_text(monkeypatch):
    monkeypatch.setenv("A_SECRET_KEY", TOKEN)
    raw = TOKEN.encode()
    for prefix in (b"", b"a", b"ab"):  # the three base64 alignments
        blob = base64.b64encode(prefix + raw + b"tail").decode()
        assert not _leaks(redaction.redact(blob)), blob
    for text in (repr({"k": TOKEN}), json.dumps([TOKEN]), json.dumps(TOKEN, ensure_ascii=False),
                 "https://x/?t=" + urllib.parse.quote(TOKEN, safe=""), "<p>" + TOKEN.replace('"', "&quot;") + "</p>"):
        assert not _leaks(redaction.redact(text)) and "$A_SECRET_KEY" in redaction.redact(text), text
    assert redaction.redact("a short KEY value stays") == "a short KEY value stays"


def test_structured_data_is_redacted_before_it_is_serialised(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", TOKEN)
    data = redaction.redact_data({"url": "x" + TOKEN, TOKEN: [TOKEN, 3, None]})
    assert data == {"url": "x$DB_PASSWORD", "$DB_PASSWORD": ["$DB_PASSWORD", 3, None]}
