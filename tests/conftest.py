"""Shared fixtures: real flows in a temporary project, a server on it, clients in both eras."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server import build_server

FLOWS = Path(__file__).parent / "flows"
TOOL_NAMES = {"run", "spin", "inspect_artifact", "list_runs", "flow_status", "run_status", "cancel_run", "resume",
              "get_logs", "list_cards"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_project(root: Path, *flows: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in flows:
        shutil.copy(FLOWS / name, root / name)
    return root


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    # Metaflow needs a user name; tests that check the fallback remove it themselves.
    monkeypatch.setenv("USER", os.environ.get("USER") or "tester")


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "project", "params_flow.py")


@pytest.fixture(params=["auto", "legacy"])
def era(request) -> str:
    """Both protocol eras: `auto` negotiates 2026-07-28, `legacy` forces the initialize handshake."""
    return request.param


@pytest.fixture
async def client(project, era):
    server = build_server(App.create(project))
    async with Client(server, mode=era) as c:
        yield c


async def call(client, tool: str, **arguments):
    """Call a tool; return (text, structured, is_error)."""
    result = await client.call_tool(tool, arguments)
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, result.structured_content or {}, bool(result.is_error)
