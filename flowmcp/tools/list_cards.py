"""The `list_cards` tool: a task's Metaflow cards as text; the full HTML is a resource."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ._common import agent_errors, answer, app_of, linked, resource_link, task_pathspec


async def list_cards(
    pathspec: Annotated[str, Field(description="Flow/run/step[/task] of a run or spin")],
    ctx: Context,
) -> Annotated[CallToolResult, models.CardsResult]:
    """List the cards a task rendered, each described in text (its markdown, tables, images,
    charts), with the URI of its full HTML as an MCP resource.

    Use it after a run or spin of a step with @card, to check what the card shows."""
    with agent_errors("list_cards"):
        app = app_of(ctx)
        pathspec, is_spin = task_pathspec(app, pathspec)
        record = await app.bridge.cards(pathspec, spin=is_spin)
        task = record["pathspec"]
        cards = [models.CardInfo(uri=f"flowmcp://card/{task}/{c['index']}", **c) for c in record["cards"]]
        result = models.CardsResult(pathspec=task, cards=cards)
        if not cards:
            return answer(f"{task} rendered no cards (add @card to the step, then run or spin it).", result)
        lines = [f"{task}: {len(cards)} card(s)"]
        for card in cards:
            lines.append(f"[{card.index}] {card.type}" + (f" id={card.id}" if card.id else "") + f" — {card.uri}")
            lines.extend("    " + line for line in card.summary.splitlines())
        links = [resource_link(card.uri, f"card {card.index} of {task}", "text/html",
                               f"The {card.type} card's full HTML") for card in cards]
        return linked(answer("\n".join(lines), result), ctx, links)
