"""The Agent Skill served over MCP (SEP-2640) through the SDK's client in both eras: its entry
(frontmatter, per-file sha256 and size) matches the `skill://` resource byte for byte, and the
text is the one `flowmcp init --skill` writes for the same project."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import pytest
from mcp import Client, MCPError
from mcp_types import PaginatedRequestParams, Request, RequestParams
from pydantic import TypeAdapter

from flowmcp.app import App
from flowmcp.cli import init as flowmcp_init
from flowmcp.server import skills, workflow
from flowmcp.server.build import build_server

pytestmark = pytest.mark.anyio
ANY = TypeAdapter(dict[str, Any])


class ListSkills(Request[PaginatedRequestParams | None, Literal["skills/list"]]):
    method: Literal["skills/list"] = "skills/list"
    params: PaginatedRequestParams | None = None


class GetSkillParams(RequestParams):
    uri: str


class GetSkill(Request[GetSkillParams, Literal["skills/get"]]):
    method: Literal["skills/get"] = "skills/get"
    params: GetSkillParams


@pytest.fixture
async def client(tmp_path, era):
    async with Client(build_server(App.create(tmp_path)), mode=era) as c:
        yield c


async def test_the_skill_is_listed_with_its_frontmatter_and_every_files_digest(client):
    yaml = pytest.importorskip("yaml")
    if client.protocol_version == "2026-07-28":  # a 2025 client drops extensions, a later revision's field
        assert client.server_capabilities.extensions[skills.EXTENSION_ID] == {}
    listed = await client.session.send_request(ListSkills(), ANY)
    [entry] = listed["skills"]
    assert entry["uri"] == "skill://flowmcp/SKILL.md" and listed["ttlMs"] > 0 and listed["cacheScope"] == "public"
    [read] = (await client.read_resource(entry["uri"])).contents
    assert read.mime_type == "text/markdown"
    body = read.text.encode()
    assert entry["resources"] == [{"uri": entry["uri"], "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                                   "size": len(body)}]
    assert entry["frontmatter"] == yaml.safe_load(read.text.split("---")[1])  # verbatim, as YAML reads it
    assert entry["frontmatter"]["name"] == "flowmcp" and len(entry["frontmatter"]["description"]) <= 1024
    got = await client.session.send_request(GetSkill(params=GetSkillParams(uri=entry["uri"])), ANY)
    assert got["skill"] == entry


async def test_the_skill_file_is_a_listed_resource_named_from_its_frontmatter(client):
    listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    resource = listed["skill://flowmcp/SKILL.md"]
    assert resource.mime_type == "text/markdown" and resource.name == "flowmcp"
    assert resource.description.startswith("Build, run and debug Metaflow flows")


async def test_an_unknown_skill_or_cursor_is_invalid_params(client):
    with pytest.raises(MCPError) as unknown:
        await client.session.send_request(GetSkill(params=GetSkillParams(uri="skill://other/SKILL.md")), ANY)
    assert unknown.value.code == -32602 and "skill://flowmcp/SKILL.md" in unknown.value.error.message
    with pytest.raises(MCPError) as cursor:
        await client.session.send_request(ListSkills(params=PaginatedRequestParams(cursor="page-2")), ANY)
    assert cursor.value.code == -32602


async def test_the_served_skill_is_what_init_skill_writes_for_the_project(tmp_path):
    flowmcp_init.init_project(tmp_path, ["claude"], skill=True)
    written = (tmp_path / ".claude/skills/flowmcp/SKILL.md").read_text()
    async with Client(build_server(App.create(tmp_path))) as client:
        [served] = (await client.read_resource("skill://flowmcp/SKILL.md")).contents
    assert served.text == written


def test_the_frontmatter_reader_reads_the_template_as_yaml_does():
    yaml = pytest.importorskip("yaml")
    text = flowmcp_init.skill_text("flowmcp", [])
    assert skills.frontmatter(text) == yaml.safe_load(text.split("---")[1])
    with pytest.raises(ValueError, match="frontmatter"):
        skills.frontmatter("# no frontmatter\n")


MAX_SKILL_LINES = 150  # short enough that an agent reads all of it


async def test_the_skill_and_the_prompts_name_every_tool_the_server_serves(tmp_path):
    async with Client(build_server(App.create(tmp_path))) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
    text = flowmcp_init.skill_text("flowmcp", [])
    section = text.split("## The tools, and when to reach for them")[1].split("\n## ")[0]
    assert [t for t in tools if f"`{t}(" not in section] == []  # each with when to reach for it
    said = " ".join(workflow.render(p) for p in prompts)
    assert [t for t in tools if f"{t}(" not in said] == []
    assert len(text.splitlines()) <= MAX_SKILL_LINES


def test_the_skill_teaches_the_branches_of_the_workflow():
    text = flowmcp_init.skill_text("flowmcp", [])
    for branch in ("foreach=", "split=", "merge_artifacts", "def join(self, inputs)", "view_card", "build_card",
                   "resume(flow)", "@step(start=True)", "Stale parent state", "wait=false"):
        assert branch in text, branch
