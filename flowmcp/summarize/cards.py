"""A Metaflow card as a few lines of text: what it shows, not its 1 MB of HTML.

Standard library only: it runs in the project's interpreter, next to the card. A card's HTML
embeds its components as base64 JSON (`__MF_DATA__[...] = "..."`); we decode that tree and
describe each component: markdown text, table sizes, images, charts, artifacts.
"""

from __future__ import annotations

import base64
import json
import re

from ..redaction import redact

MAX_CHARS = 1500
MARKDOWN_CHARS = 200

_DATA = re.compile(r'__MF_DATA__\[[^\]]*\]\s*=\s*"([A-Za-z0-9+/=]+)"')


def components(html: str) -> list[dict]:
    """The card's component tree, or [] when the HTML carries none we can read."""
    match = _DATA.search(html)
    if not match:
        return []
    try:
        data = json.loads(base64.b64decode(match.group(1)).decode("utf-8", "replace"))
    except (ValueError, UnicodeDecodeError):
        return []
    return data.get("components") or []


ERROR_SECTION = "Card Render Failed With Error"  # Metaflow's ErrorCard (2.19.39, card_modules/basic.py)


def render_error(html: str) -> str | None:
    """The last line of the error when the card is Metaflow's error card (the card's own render
    raised), else None."""
    for component in components(html):
        for section in component.get("contents") or []:
            if isinstance(section, dict) and section.get("title") == ERROR_SECTION:
                logs = [str(c.get("data") or "") for c in section.get("contents") or [] if isinstance(c, dict)]
                lines = [line.strip() for text in logs for line in text.splitlines() if line.strip()]
                return lines[-1] if lines else "no reason given"
    return None


def describe(html: str, max_chars: int = MAX_CHARS) -> str:
    lines: list[str] = []
    for component in components(html):
        _walk(component, lines, 0)
    text = "\n".join(lines) if lines else "(no components found: an empty card, or one this reader does not know)"
    return text if len(text) <= max_chars else redact(text)[: max_chars - 1] + "…"


def _walk(node: dict, lines: list[str], depth: int) -> None:
    kind = node.get("type", "?")
    pad = "  " * depth
    title = f" {node['title']!r}" if node.get("title") else ""
    if kind == "markdown":
        source = " ".join(str(node.get("source", "")).split())
        source = redact(source) if len(source) > MARKDOWN_CHARS else source  # before the cut
        cut = "…" if len(source) > MARKDOWN_CHARS else ""
        lines.append(f"{pad}markdown: {source[:MARKDOWN_CHARS]}{cut}")
    elif kind == "table":
        rows = node.get("data") or []
        columns = len(node.get("columns") or (rows[0] if rows else []))
        lines.append(f"{pad}table{title}: {len(rows):,} rows × {columns} columns")
    elif kind == "image":
        lines.append(f"{pad}image{title}")
    elif kind in ("vegaChart", "vega-chart", "lineChart", "barChart"):
        lines.append(f"{pad}chart ({kind}){title}")
    elif kind == "artifacts":
        names = [a.get("name") for a in node.get("data") or [] if isinstance(a, dict)]
        lines.append(f"{pad}artifacts: {', '.join(n for n in names if n) or len(node.get('data') or [])}")
    elif kind in ("page", "section"):
        if kind == "section" and title:
            lines.append(f"{pad}section{title}")
        for child in node.get("contents") or []:
            if isinstance(child, dict):
                _walk(child, lines, depth + (1 if kind == "section" and title else 0))
    else:
        lines.append(f"{pad}{kind}{title}")
