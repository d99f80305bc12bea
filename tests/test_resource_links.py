"""Answers that summarize something big link the resource holding the whole of it (a card's HTML,
a task's whole log, an artifact's value), for clients of 2025-06-18 or later; older ones get the
text alone, which still names the URI where there is one."""

from __future__ import annotations

import sys

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import call, make_project
from .support import RawSession

pytestmark = pytest.mark.anyio


def _links(result) -> dict[str, object]:
    return {str(c.uri): c for c in result.content if c.type == "resource_link"}


async def test_answers_link_the_resources_that_hold_the_whole(tmp_path, era):
    root = make_project(tmp_path / "p", "params_flow.py", "card_flow.py")
    async with Client(build_server(App.create(root)), mode=era) as c:
        _, run, _ = await call(c, "run", flow="params_flow.py")
        _, cards_run, _ = await call(c, "run", flow="card_flow.py")

        result = await c.call_tool("inspect_artifact", {"pathspec": f"{run['pathspec']}/join", "name": "total"})
        task = result.structured_content["pathspec"]
        [link] = _links(result).values()
        assert str(link.uri) == f"flowmcp://artifact/{task}/total" and link.mime_type == "application/json"
        assert "0.1" in (await c.read_resource(link.uri)).contents[0].text

        result = await c.call_tool("get_logs", {"pathspec": f"{run['pathspec']}/score"})
        [link] = _links(result).values()
        assert str(link.uri).endswith("/stdout") and "whole stdout" in link.description
        assert "result is" in (await c.read_resource(link.uri)).contents[0].text

        result = await c.call_tool("list_cards", {"pathspec": f"{cards_run['pathspec']}/report"})
        [link] = _links(result).values()
        assert link.mime_type == "text/html" and str(link.uri) in result.content[0].text
        assert (await c.read_resource(link.uri)).contents[0].text.startswith("<!DOCTYPE html>")  # its data is encoded


def test_a_client_older_than_resource_links_gets_the_text_alone(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(root)], cwd=root)
    try:
        session.send("initialize", {"protocolVersion": "2025-03-26", "capabilities": {},
                                    "clientInfo": {"name": "old", "version": "0"}})
        assert session.receive()["result"]["protocolVersion"] == "2025-03-26"
        session.send("notifications/initialized", notify=True)
        run = session.tool("run", {"flow": "params_flow.py"})["structuredContent"]["pathspec"]
        answer = session.tool("inspect_artifact", {"pathspec": f"{run}/join", "name": "total"})
        assert [c["type"] for c in answer["content"]] == ["text"], answer
    finally:
        session.close()
