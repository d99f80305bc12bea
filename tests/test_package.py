"""What a release ships: server.json as the MCP registry checks it, and the package's metadata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from flowmcp import __version__
from flowmcp.cli.main import _merge_project_options, build_parser

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The registry's published schema (https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json),
# kept verbatim: the tests run without the network.
SCHEMA = HERE / "data" / "server.schema.2025-12-11.json"


@pytest.fixture(scope="module")
def server_json() -> dict:
    return json.loads((ROOT / "server.json").read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_server_json_is_valid_against_the_registry_schema(server_json):
    schema = json.loads(SCHEMA.read_text())
    assert server_json["$schema"] == schema["$id"]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(server_json), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_fails_on_what_the_registry_refuses(server_json):
    schema = json.loads(SCHEMA.read_text())
    for broken in ({**server_json, "name": "flowmcp"}, {**server_json, "description": "x" * 101},
                   {**server_json, "packages": [{**server_json["packages"][0], "version": "latest"}]}):
        assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_server_json_names_this_release(server_json, pyproject):
    assert server_json["version"] == pyproject["project"]["version"] == __version__
    assert {p["version"] for p in server_json["packages"]} == {__version__}
    assert {p["identifier"] for p in server_json["packages"]} == {pyproject["project"]["name"]}
    # The registry verifies a PyPI package by this line in its README (the package's description).
    assert f"mcp-name: {server_json['name']}" in (ROOT / "README.md").read_text()
    assert server_json["repository"]["url"] == pyproject["project"]["urls"]["Repository"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_way_to_start_flowmcp_is_a_command_line_it_accepts(server_json, index, tmp_path):
    package = server_json["packages"][index]
    argv = []
    for argument in package.get("packageArguments", []):
        if argument["type"] == "positional":
            argv.append(argument["value"])
        else:
            value = argument.get("default") or (str(tmp_path) if argument.get("format") == "filepath" else "x")
            argv += [argument["name"], value if argument["name"] != "--python" else sys.executable]
    parser = build_parser()
    args = parser.parse_args(argv)
    _merge_project_options(parser, args)  # options before or after the command mean the same
    assert args.root == str(tmp_path)
    if package["transport"]["type"] == "streamable-http":
        assert (args.command, args.http, args.port) == ("serve", True, 8765)
        assert package["transport"]["url"] == "http://127.0.0.1:{--port}/mcp"
        assert {v["name"] for v in package["environmentVariables"]} == {"FLOWMCP_TOKEN"}
    else:
        assert args.command is None  # no command: MCP over stdio


def test_package_metadata_a_user_expects(pyproject):
    project = pyproject["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= set(project["urls"])
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")}
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    assert project["requires-python"].startswith(">=3.10")
