"""Definitions a grader passes, read through the SDK's client in both eras: every property of every
tool's input and output schema, every prompt argument, resource and resource template described;
schemas valid as JSON Schema 2020-12; logging declared only in the handshake era; every version
served listed in server/discover; an invalid cursor on every list method is -32602; the server's
website, icon and listChanged."""

from __future__ import annotations

import pytest
from mcp import Client, MCPError
from mcp_types import PaginatedRequestParams
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS

from flowmcp.app import App
from flowmcp.server.build import build_server
from flowmcp.server.protocol import WEBSITE_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path, era):
    async with Client(build_server(App.create(tmp_path)), mode=era) as c:
        yield c


def _undescribed(schema: dict, where: str) -> list[str]:
    """Every property, at any depth ($defs, items, anyOf included), that has no description."""
    found = []
    for name, prop in (schema.get("properties") or {}).items():
        if not (prop.get("description") or "").strip():
            found.append(f"{where}.{name}")
        found += _undescribed(prop, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _undescribed(schema[key], f"{where}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, option in enumerate(schema.get(key) or ()):
            found += _undescribed(option, f"{where}|{i}")
    for name, definition in (schema.get("$defs") or {}).items():
        found += _undescribed(definition, f"{where}#{name}")
    return found


async def test_every_property_of_every_tool_schema_is_described_and_valid_2020_12(client):
    jsonschema = pytest.importorskip("jsonschema")
    tools = (await client.list_tools()).tools
    missing = []
    for tool in tools:
        missing += _undescribed(tool.input_schema, f"{tool.name} input")
        missing += _undescribed(tool.output_schema or {}, f"{tool.name} output")
        for schema in (tool.input_schema, tool.output_schema):
            jsonschema.Draft202012Validator.check_schema(schema)
        assert tool.output_schema, tool.name
    assert missing == []


async def test_every_prompt_argument_resource_and_template_is_described(client):
    for prompt in (await client.list_prompts()).prompts:
        assert prompt.description and all(a.description for a in prompt.arguments), prompt.name
    for template in (await client.list_resource_templates()).resource_templates:
        assert template.description, template.uri_template
    for resource in (await client.list_resources()).resources:
        assert resource.description, resource.uri


async def test_logging_is_declared_to_the_handshake_era_only(client):
    if client.protocol_version == "2026-07-28":
        assert client.server_capabilities.logging is None
    else:
        assert client.server_capabilities.logging is not None


async def test_server_discover_lists_every_version_served(tmp_path):
    async with Client(build_server(App.create(tmp_path))) as client:
        discovered = client.session.discover_result
    assert sorted(discovered.supported_versions) == sorted(KNOWN_PROTOCOL_VERSIONS)
    assert discovered.capabilities.logging is None and "tasks" not in discovered.capabilities.model_fields_set


@pytest.mark.parametrize("method", ["list_tools", "list_prompts", "list_resources", "list_resource_templates"])
async def test_an_invalid_cursor_is_invalid_params_on_every_list_method(client, method):
    with pytest.raises(MCPError) as refused:
        await getattr(client.session, method)(params=PaginatedRequestParams(cursor="no-such-page"))
    assert refused.value.code == -32602 and "one page" in refused.value.error.message
    assert await getattr(client.session, method)()  # without one: the page


async def test_the_server_says_its_website_icon_and_that_its_lists_may_change(client):
    info = client.server_info
    assert info.website_url == WEBSITE_URL
    [icon] = info.icons
    assert icon.src.startswith("data:image/svg+xml;base64,") and icon.mime_type == "image/svg+xml"
    capabilities = client.server_capabilities
    assert capabilities.tools.list_changed and capabilities.prompts.list_changed
    assert capabilities.resources.list_changed
