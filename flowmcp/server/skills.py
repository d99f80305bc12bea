"""flowmcp's Agent Skill served over MCP (SEP-2640, the `io.modelcontextprotocol/skills`
extension): `skills/list` and `skills/get` answer its entry (the frontmatter as a JSON object,
every file with its sha256 and size), and its file is the resource `skill://flowmcp/SKILL.md`.

The text is the one `flowmcp init --skill` writes for this project (`workflow.skill_text`, with
the command that starts this server): hosts that speak 2026-07-28 (Claude Code sends `skills/list`)
take it from the server, older ones read the installed file.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.extension import Extension, MethodBinding, ResourceBinding
from mcp.server.mcpserver.resources import TextResource
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, PaginatedRequestParams, RequestParams
from pydantic import ConfigDict

EXTENSION_ID = "io.modelcontextprotocol/skills"
SKILL_NAME = "flowmcp"
SKILL_FILE = "SKILL.md"
SKILL_URI = f"skill://{SKILL_NAME}/{SKILL_FILE}"
MIME_TYPE = "text/markdown"
CACHE_TTL_MS = 5 * 60 * 1000  # the skill changes only when flowmcp is upgraded
CACHE_SCOPE = "public"  # the same entry for every caller


class GetSkillParams(RequestParams):
    model_config = ConfigDict(extra="allow")
    uri: str


def frontmatter(text: str) -> dict[str, Any]:
    """The YAML frontmatter of our own SKILL.md as a JSON object: `key: value` lines and one level
    of `key:` maps (all the template uses; tests check it against a YAML parser)."""
    lines = text.split("\n")
    if lines[0] != "---" or "---" not in lines[1:]:
        raise ValueError("SKILL.md must start with YAML frontmatter between --- lines")
    data: dict[str, Any] = {}
    current: dict[str, Any] = data
    for line in lines[1:lines.index("---", 1)]:
        if not line.strip():
            continue
        key, _, value = line.strip().partition(":")
        value = value.strip()
        if not line.startswith(" "):
            current = data
        if value:
            current[key] = value
        else:
            current = data[key] = {}
    return data


class Skills(Extension):
    identifier = EXTENSION_ID

    def __init__(self, text: str):
        self.text = text
        self.frontmatter = frontmatter(text)
        body = text.encode()
        self.entry = {
            "uri": SKILL_URI,
            "frontmatter": self.frontmatter,
            "resources": [{"uri": SKILL_URI, "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                           "size": len(body)}],
        }

    def resources(self) -> list[ResourceBinding]:
        return [ResourceBinding(TextResource(
            uri=SKILL_URI, name=self.frontmatter["name"], title="flowmcp's workflow and tools (Agent Skill)",
            description=self.frontmatter["description"], mime_type=MIME_TYPE, text=self.text))]

    def methods(self) -> list[MethodBinding]:
        return [MethodBinding("skills/list", PaginatedRequestParams, self._list),
                MethodBinding("skills/get", GetSkillParams, self._get)]

    async def _list(self, _ctx: ServerRequestContext, params: PaginatedRequestParams) -> dict[str, Any]:
        if params.cursor is not None:  # the list is one page: no cursor of ours names another
            raise MCPError(INVALID_PARAMS, f"Invalid cursor {params.cursor[:40]!r}: skills/list has one page; "
                                           "call it without a cursor.")
        return {"skills": [self.entry], "ttlMs": CACHE_TTL_MS, "cacheScope": CACHE_SCOPE}

    async def _get(self, _ctx: ServerRequestContext, params: GetSkillParams) -> dict[str, Any]:
        if params.uri != SKILL_URI:
            raise MCPError(INVALID_PARAMS, f"No skill is served at {params.uri[:200]}; this server serves {SKILL_URI}.")
        return {"skill": self.entry, "ttlMs": CACHE_TTL_MS, "cacheScope": CACHE_SCOPE}
