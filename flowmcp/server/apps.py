"""The card viewer as an MCP App (the `io.modelcontextprotocol/ui` extension): for the person.

`view_card` answers the agent with pictures; a host that renders MCP Apps (Claude Desktop, VS
Code, ...) also shows the card itself, live, in a sandboxed frame: the tool's `_meta.ui.resourceUri`
names `ui://flowmcp/card-viewer.html`, which reads the card's HTML through the host
(`resources/read` of the `flowmcp://card/...` URI in the tool's structured result) and shows it
in a frame of its own, sandboxed away from the view and its bridge to the host.

The viewer calls no tool, so no tool is the app's: every tool is marked `visibility: ["model"]`,
and a host refuses an app's `tools/call` of any of them (ext-apps 2026-01-26, "Visibility").

The link is offered only to clients that declared the extension with its MIME type: for the
others, `tools/list` carries no `_meta.ui` (the SDK's tool list is the same for every client, so
a middleware takes it out), and the answer is the same pictures and text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, ResourceCsp, client_supports_apps

CARD_VIEWER = "ui://flowmcp/card-viewer.html"
VIEWER_HTML = Path(__file__).parent.parent / "templates" / "card-viewer.html"
APP_TOOLS = frozenset({"view_card"})  # whose results the viewer shows
MODEL_ONLY = ["model"]  # the agent calls it; no app may


def tool_meta(name: str) -> dict[str, Any]:
    """A tool's `_meta`: the agent's alone, and the viewer's link for those the viewer shows."""
    ui: dict[str, Any] = {"resourceUri": CARD_VIEWER} if name in APP_TOOLS else {}
    return {"ui": {**ui, "visibility": MODEL_ONLY}}


def extension() -> Apps:
    apps = Apps()
    apps.add_html_resource(
        CARD_VIEWER, VIEWER_HTML.read_text(), name="card-viewer", title="Metaflow card",
        description="Shows the card view_card rendered, live, as Metaflow drew it",
        csp=ResourceCsp(),  # a card needs nothing from the network: the host's strictest policy
        prefers_border=True,
    )
    return apps


async def offered_to_app_hosts(ctx: Any, call_next) -> Any:
    """Server middleware: `tools/list` keeps `_meta.ui` only for clients that render MCP Apps."""
    result = await call_next(ctx)
    if getattr(ctx, "method", None) != "tools/list" or result is None or client_supports_apps(ctx):
        return result
    tools = result.get("tools") if isinstance(result, dict) else getattr(result, "tools", None)
    for tool in tools or ():
        meta = tool.get("_meta") if isinstance(tool, dict) else tool.meta
        if meta and "ui" in meta:
            meta = {k: v for k, v in meta.items() if k != "ui"} or None
            if isinstance(tool, dict):  # `_meta` is an object when present: absent, never null
                if meta:
                    tool["_meta"] = meta
                else:
                    tool.pop("_meta", None)
            else:
                tool.meta = meta
    return result


__all__ = ["APP_MIME_TYPE", "APP_TOOLS", "CARD_VIEWER", "EXTENSION_ID", "MODEL_ONLY", "extension",
           "offered_to_app_hosts", "tool_meta"]
