"""The `view_card` tool: a card rendered in a real headless browser, answered as pictures."""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent
from pydantic import Field

from .. import models
from ..app import browser
from ..errors import BadArgumentError, FlowmcpError, NotFoundError
from ..redaction import redact_card
from ..state.config import environ
from ..summarize.text import cut_end
from ._common import agent_errors, answer, app_of, task_pathspec

MAX_HEADLINE_CHARS = 300
MAX_PAGE_ERROR_CHARS = 200
MAX_WIDTH = 1600  # px: as every picture flowmcp sends (bridge/project/images.MAX_EDGE); tiles are shorter


async def view_card(
    pathspec: Annotated[str, Field(description="Flow/run/step[/task] of a run or spin (the spin's pathspec)")],
    ctx: Context,
    index: Annotated[int | None, Field(description="Which card, as list_cards numbers them (default: the first)",
                                       ge=0)] = None,
    type: Annotated[str | None, Field(description="Pick the first card of this type, e.g. 'default' or 'blank'")]
    = None,
    id: Annotated[str | None, Field(description="Pick the card with this id (@card(id=...))")] = None,
    width: Annotated[int, Field(description="Page width to render at, px", ge=320, le=MAX_WIDTH)] = 1000,
    full_page: Annotated[bool, Field(description="The whole page (as several pictures) instead of the first "
                                     "screen")] = False,
) -> Annotated[CallToolResult, models.ViewCardResult]:
    """See a card as it renders: the card of a run's or spin's task, drawn by a real headless
    browser after its scripts ran, answered as a PNG (tall pages as several, under ~1 MB in all)
    and two lines: its type and components, and the picture's size; a third when its scripts
    threw or opened dialogs (each dismissed).

    Use it after spin or run of a step with @card, to check the card looks right (empty charts,
    squeezed tables, markdown shown raw), then adjust the step and spin it again."""
    with agent_errors("view_card"):
        app = app_of(ctx)
        task, is_spin = task_pathspec(app, pathspec)
        try:
            found = browser.find_browser(app.config.browser, environ())
        except browser.BrowserMissing as ex:
            raise FlowmcpError(f"view_card needs a browser: {ex}. Everything else works without one; list_cards "
                               "describes the card in words.") from None
        # One job reads the listing and the card it guesses (index, else the first); another only
        # when type or id picks a different one.
        listed = await app.bridge.cards(task, spin=is_spin, index=index or 0, listing=True)
        task = listed["pathspec"]
        card = _chosen(task, listed["cards"], index, type, id)
        html = listed.get("html") if card["index"] == (index or 0) else None
        if html is None:
            html = (await app.bridge.cards(task, spin=is_spin, index=card["index"]))["html"]
        folder = Path(tempfile.mkdtemp(prefix="card-", dir=_scratch(app)))
        page = folder / "card.html"
        try:
            await anyio.Path(page).write_text(redact_card(html))  # a secret the step drew is not drawn
            shot = await browser.render(found, page, width=width, full_page=full_page)
        except browser.BrowserFailed as ex:
            raise FlowmcpError(f"view_card: {ex}") from None
        finally:
            await anyio.to_thread.run_sync(_remove, folder)
        uri = f"flowmcp://card/{task}/{card['index']}"
        first_error = cut_end(shot.first_error, MAX_PAGE_ERROR_CHARS) if shot.first_error else None
        result = models.ViewCardResult(
            pathspec=task, index=card["index"], type=card["type"], id=card.get("id"), uri=uri, width=shot.width,
            height=shot.height, page_height=shot.page_height, images=len(shot.images), image_bytes=shot.bytes,
            scale=shot.scale, cut=shot.cut, page_errors=shot.errors, first_page_error=first_error,
            dialogs_dismissed=len(shot.dialogs))
        text = "\n".join(line for line in (_headline(task, card), _size_line(shot, full_page), _page_line(shot))
                          if line)
        answered = answer(text, result)
        answered.content += [ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")
                             for png in shot.images]
        return answered


def _chosen(task: str, cards: list[dict], index: int | None, kind: str | None, card_id: str | None) -> dict:
    listing = ", ".join(f"[{c['index']}] {c['type']}" + (f" id={c['id']}" if c.get("id") else "") for c in cards)
    if not cards:
        raise NotFoundError(f"{task} rendered no cards: add @card to the step, then run or spin it.")
    chosen = cards
    if index is not None:
        chosen = [c for c in chosen if c["index"] == index]
    if kind is not None:
        chosen = [c for c in chosen if c["type"] == kind]
    if card_id is not None:
        chosen = [c for c in chosen if c.get("id") == card_id]
    if not chosen:
        asked = ", ".join(f"{name}={value!r}" for name, value in (("index", index), ("type", kind), ("id", card_id))
                          if value is not None)
        raise BadArgumentError(f"{task} has no card with {asked}; its cards: {listing}.")
    return chosen[0]


def _headline(task: str, card: dict) -> str:
    named = f"{card['type']} card [{card['index']}]" + (f" id={card['id']}" if card.get("id") else "")
    summary = " ".join(line.strip() for line in (card.get("summary") or "").splitlines()[:2])
    return cut_end(f"{named} of {task}: {summary}", MAX_HEADLINE_CHARS) if summary else f"{named} of {task}"


def _size_line(shot: browser.Shot, full_page: bool) -> str:
    pictures = f"{len(shot.images)} PNGs" if len(shot.images) > 1 else "PNG"
    scaled = f", scaled to {shot.scale:g}" if shot.scale < 1 else ""
    line = (f"{pictures} of {shot.width}×{shot.height} px of a {shot.page_height} px page{scaled}, "
            f"{shot.bytes / 1024:,.0f} KB")
    if shot.cut:
        line += " — the page goes on below: " + ("too tall for one answer, narrow it or read list_cards"
                                                 if full_page else "pass full_page=true to see all of it")
    return line


def _page_line(shot: browser.Shot) -> str | None:
    """What the card's scripts did besides drawing: exceptions nothing caught, dialogs dismissed."""
    said = []
    if shot.errors:
        said.append(f"its scripts threw {shot.errors} uncaught exception{'s' if shot.errors > 1 else ''}, the first: "
                    f"{cut_end(shot.first_error or '?', MAX_PAGE_ERROR_CHARS)}")
    if shot.dialogs:
        kinds = ", ".join(sorted(set(shot.dialogs)))
        said.append(f"{len(shot.dialogs)} dialog{'s' if len(shot.dialogs) > 1 else ''} ({kinds}) dismissed unanswered")
    return "The card's page: " + "; ".join(said) if said else None


def _scratch(app) -> Path:
    folder = app.config.state_dir / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
