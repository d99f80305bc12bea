"""The README's promises: its tool reference matches the live schemas, its two lines are the ones CI runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowmcp.cli import reference
from flowmcp.cli.init import init_project

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_readme_tool_reference_matches_the_tool_schemas():
    expected = reference.splice(README, await reference.generate())
    assert expected == README, "the README's tool reference is stale: run `python -m flowmcp.cli.reference README.md`"


def test_ci_runs_the_readme_test_line():
    test_line = next(line for line in README.splitlines() if line.endswith("&& pytest"))
    assert test_line in (ROOT / ".ci" / "run").read_text()


def _snippet(client_label: str) -> dict:
    line = next(line for line in README.splitlines() if line.startswith(f"- **{client_label}**"))
    return json.loads(re.search(r"`(\{.*\})`", line).group(1))


@pytest.mark.parametrize("label, path", [("Cursor", ".cursor/mcp.json"), ("VS Code", ".vscode/mcp.json")])
def test_readme_client_snippets_have_the_shape_flowmcp_init_writes(tmp_path, label, path):
    init_project(tmp_path, ["cursor", "vscode"])
    written = json.loads((tmp_path / path).read_text())
    snippet = _snippet(label)
    assert snippet.keys() == written.keys()
    (key,) = snippet
    assert snippet[key]["flowmcp"].keys() <= written[key]["flowmcp"].keys()
    assert {k: v for k, v in written[key]["flowmcp"].items() if k not in ("command", "args")} == {
        k: v for k, v in snippet[key]["flowmcp"].items() if k != "command"}


def test_readme_claude_line_is_the_registration_command():
    assert "`claude mcp add flowmcp -- flowmcp`" in README


def test_version_and_help_are_informative():
    version = subprocess.run([sys.executable, "-m", "flowmcp", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("flowmcp 0.") and "Python 3." in version.stdout
    help_text = subprocess.run([sys.executable, "-m", "flowmcp", "--help"], capture_output=True, text=True).stdout
    for command in ("serve", "init", "call", "demo"):
        assert command in help_text
