"""`flowmcp init --plugin`: one folder that is a plugin and a one-plugin marketplace for Claude Code
and Cursor (the server, its prompts and the skill in one install), checked against each
marketplace's manifest rules — Claude Code's own `claude plugin validate`, and the JSON Schemas
Cursor publishes for .cursor-plugin/plugin.json and marketplace.json (restated below) — and
written as every `init` file is: idempotent, --dry-run, a foreign file left alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flowmcp import __version__
from flowmcp.cli import plugin
from flowmcp.cli.main import main
from flowmcp.server.workflow import skill_text

ROOT = Path(__file__).parent.parent
CLAUDE = shutil.which("claude") or str(ROOT / "clients" / "node_modules" / ".bin" / "claude")

# Cursor's manifest rules (cursor.com/docs/plugins/building; the schemas in cursor/plugins' schemas/):
# a kebab-case name, only the documented keys, an author with a name (and an email), component
# paths as strings or lists of strings, a marketplace of name and plugins of name and source.
NAME = {"type": "string", "minLength": 1, "pattern": "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"}
TEXT = {"type": "string"}
PATHS = {"oneOf": [TEXT, {"type": "array", "items": TEXT}]}
PERSON = {"type": "object", "required": ["name"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "minLength": 1}, "email": {"type": "string", "format": "email"}}}
CURSOR_PLUGIN = {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "properties": {
        "name": NAME, "displayName": TEXT, "description": TEXT, "version": TEXT, "author": PERSON,
        "publisher": {"type": "string", "minLength": 1}, "homepage": {"type": "string", "format": "uri"},
        "repository": {"type": "string", "format": "uri"}, "license": TEXT, "logo": TEXT,
        "keywords": {"type": "array", "items": TEXT}, "category": TEXT, "tags": {"type": "array", "items": TEXT},
        "commands": PATHS, "agents": PATHS, "skills": PATHS, "rules": PATHS,
        "hooks": {"oneOf": [TEXT, {"type": "object"}]}, "variables": {"type": "object"},
        "minClientVersions": {"type": "object"},
        "mcpServers": {"oneOf": [TEXT, {"type": "object"}, {"type": "array"}]},
    },
}
CURSOR_MARKETPLACE = {
    "type": "object", "required": ["name", "plugins"], "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1}, "owner": PERSON, "metadata": {"type": "object"},
        "plugins": {"type": "array", "items": {
            "type": "object", "required": ["name", "source"], "additionalProperties": False,
            "properties": {"name": NAME, "source": {"type": "string", "minLength": 1}, "description": TEXT,
                           "minClientVersions": {"type": "object"}}}},
    },
}


@pytest.fixture
def bundle(tmp_path) -> Path:
    folder = tmp_path / "flowmcp-plugin"
    assert main(["init", "--plugin", str(folder)]) == 0
    return folder


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_bundle_is_a_cursor_plugin_and_marketplace_by_cursors_schemas(bundle):
    jsonschema = pytest.importorskip("jsonschema")
    manifest = _json(bundle / ".cursor-plugin/plugin.json")
    jsonschema.validate(manifest, CURSOR_PLUGIN, format_checker=jsonschema.FormatChecker())
    jsonschema.validate(_json(bundle / ".cursor-plugin/marketplace.json"), CURSOR_MARKETPLACE,
                        format_checker=jsonschema.FormatChecker())
    for relative in (manifest["logo"], manifest["skills"], manifest["mcpServers"]):
        assert (bundle / relative).exists(), relative  # every component it names is in the bundle
    [entry] = _json(bundle / ".cursor-plugin/marketplace.json")["plugins"]
    assert (bundle / entry["source"] / ".cursor-plugin/plugin.json").is_file() and entry["name"] == manifest["name"]


def test_the_bundle_carries_the_server_registered_for_the_registry_and_its_skill(bundle):
    registry = _json(ROOT / "server.json")["packages"][0]
    server = _json(bundle / ".mcp.json")["mcpServers"]["flowmcp"]
    assert registry["runtimeHint"] == server["command"] == "uvx"
    assert server["args"] == [f"{registry['identifier']}=={registry['version']}"] == [f"flowmcp=={__version__}"]
    assert (bundle / "skills/flowmcp/SKILL.md").read_text() == skill_text("uvx", server["args"])
    claude = _json(bundle / ".claude-plugin/plugin.json")
    [listed] = _json(bundle / ".claude-plugin/marketplace.json")["plugins"]
    assert claude["name"] == listed["name"] == "flowmcp" and claude["version"] == listed["version"] == __version__


def test_init_plugin_is_idempotent_says_what_it_would_do_and_leaves_foreign_files(bundle, capsys):
    capsys.readouterr()
    assert main(["init", "--plugin", str(bundle)]) == 0
    again = capsys.readouterr().out
    assert again.count("unchanged") == len(plugin.files()) and "created" not in again
    fresh = bundle.parent / "fresh"
    assert main(["init", "--plugin", str(fresh), "--dry-run"]) == 0
    assert "would create" in capsys.readouterr().out and not fresh.exists()
    foreign = bundle.parent / "foreign"
    (foreign / ".claude-plugin").mkdir(parents=True)
    (foreign / ".claude-plugin/plugin.json").write_text('{"name": "someone-else"}\n')
    assert main(["init", "--plugin", str(foreign)]) == 1
    assert "did not write" in capsys.readouterr().out
    assert _json(foreign / ".claude-plugin/plugin.json") == {"name": "someone-else"}


@pytest.mark.skipif(not os.access(CLAUDE, os.X_OK), reason="Claude Code (npm @anthropic-ai/claude-code) not installed")
def test_claude_code_validates_the_plugin_and_its_marketplace(bundle, tmp_path):
    for target in (bundle, bundle / ".claude-plugin/plugin.json"):
        out = subprocess.run([CLAUDE, "plugin", "validate", str(target)], capture_output=True, text=True, timeout=120,
                             env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
        assert out.returncode == 0 and "Validation passed" in out.stdout, out.stdout + out.stderr
        assert 'mcpServers: flowmcp stdio uvx ["flowmcp==' in out.stdout and "skills: flowmcp:flowmcp" in out.stdout
