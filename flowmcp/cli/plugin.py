"""`flowmcp init --plugin [DIR]`: flowmcp as one install for the Claude Code and Cursor plugin
marketplaces — the MCP server (its tools and prompts), the Agent Skill and a logo — in a folder
that is both a plugin and a one-plugin marketplace.

    DIR/.claude-plugin/plugin.json, marketplace.json   Claude Code (`claude plugin validate DIR`)
    DIR/.cursor-plugin/plugin.json, marketplace.json   Cursor (its published plugin schemas)
    DIR/.mcp.json                                      the server, started with `uvx flowmcp==VERSION`
    DIR/skills/flowmcp/SKILL.md                        the skill `init --skill` writes, for that command
    DIR/assets/logo.svg, DIR/README.md

The server is the package on PyPI run by uvx (as server.json registers it), so the bundle works on
any machine; it serves the project the client starts it in. The prompts come with the server (MCP
prompts: Claude Code shows them as /mcp__flowmcp__develop_flow, ...). Written like every `init`
file: idempotent, `--dry-run` says what it would do, and a file of that name flowmcp did not write
is left alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import __version__
from ..server.protocol import ICON, WEBSITE_URL
from ..server.workflow import SKILL_GENERATOR, skill_text
from ..state.clients import SERVER_NAME
from .init import Change, _apply, _skill_file

README_MARK = "<!-- written by `flowmcp init --plugin`; run it again to update -->"
LOGO_MARK = "<!-- flowmcp logo -->"
DESCRIPTION = ("Develop Metaflow flows one verified step at a time: run a flow, spin one step on its parent's "
               "saved state, read a failure's file:line and an artifact's shape, see a card - an MCP server, "
               "its prompts and an Agent Skill.")
AUTHOR = {"name": "the flowmcp authors"}
REPOSITORY = "https://github.com/flowmcp/flowmcp"
KEYWORDS = ["metaflow", "mcp", "ml-pipelines", "data-science", "spin", "debugging"]


def server_command() -> tuple[str, list[str]]:
    """The released package, run by uvx: the same on every machine, whatever the project."""
    return "uvx", [f"{SERVER_NAME}=={__version__}"]


def files() -> dict[str, str]:
    """The bundle: path relative to its folder -> text."""
    command, args = server_command()
    mcp = {"mcpServers": {SERVER_NAME: {"command": command, "args": args}}}
    claude_plugin = {"name": SERVER_NAME, "version": __version__, "description": DESCRIPTION, "author": AUTHOR,
                     "homepage": WEBSITE_URL, "repository": REPOSITORY, "license": "Apache-2.0",
                     "keywords": KEYWORDS}
    claude_marketplace = {
        "name": SERVER_NAME, "owner": AUTHOR,
        "metadata": {"description": "flowmcp: Metaflow for coding agents", "version": __version__},
        "plugins": [{"name": SERVER_NAME, "source": "./", "description": DESCRIPTION, "version": __version__,
                     "author": AUTHOR, "homepage": WEBSITE_URL, "repository": REPOSITORY, "license": "Apache-2.0",
                     "keywords": KEYWORDS, "category": "development"}],
    }
    cursor_plugin = {"name": SERVER_NAME, "displayName": "flowmcp", "description": DESCRIPTION,
                     "version": __version__, "author": AUTHOR, "homepage": WEBSITE_URL, "repository": REPOSITORY,
                     "license": "Apache-2.0", "logo": "assets/logo.svg", "keywords": KEYWORDS,
                     "category": "Developer Tools", "skills": "skills/", "mcpServers": ".mcp.json"}
    cursor_marketplace = {"name": SERVER_NAME, "owner": AUTHOR,
                          "metadata": {"description": "flowmcp: Metaflow for coding agents"},
                          "plugins": [{"name": SERVER_NAME, "source": ".", "description": DESCRIPTION}]}
    return {
        ".claude-plugin/plugin.json": _json(claude_plugin),
        ".claude-plugin/marketplace.json": _json(claude_marketplace),
        ".cursor-plugin/plugin.json": _json(cursor_plugin),
        ".cursor-plugin/marketplace.json": _json(cursor_marketplace),
        ".mcp.json": _json(mcp),
        f"skills/{SERVER_NAME}/SKILL.md": skill_text(command, args),
        "assets/logo.svg": ICON.read_text(),
        "README.md": _readme(command, args),
    }


def write_bundle(folder: Path, dry_run: bool = False) -> list[Change]:
    changes, root = [], folder.resolve()  # like init, never through a link out of the bundle's folder
    for relative, text in files().items():
        changes.append(_apply(root, folder / relative,
                              lambda old, text=text, relative=relative: _ours(old, text, relative), dry_run))
    return changes


def _ours(old: str, new: str, relative: str) -> str:
    """The new text when the file is new or one `init --plugin` wrote; ValueError otherwise."""
    if not old.strip() or old == new:
        return new
    if relative.endswith("SKILL.md"):
        return _skill_file(old, new)  # ours between its markers; the user's text after them stays
    if relative.endswith(".json"):
        try:
            data = json.loads(old)
        except json.JSONDecodeError:
            data = None
        servers = data.get("mcpServers") if isinstance(data, dict) else None
        if isinstance(data, dict) and (data.get("name") == SERVER_NAME or SERVER_NAME in (servers or {})):
            return new
    elif README_MARK in old or (relative.endswith(".svg") and LOGO_MARK in old):
        return new
    raise ValueError("a file of that name exists that flowmcp init --plugin did not write")


def _json(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def _readme(command: str, args: list[str]) -> str:
    started = " ".join([command, *args])
    return f"""{README_MARK}
# flowmcp plugin

flowmcp — Metaflow for coding agents — as one install: the MCP server (`{started}`, serving the
project the client starts it in: its tools and its prompts), the `flowmcp` Agent Skill
(`skills/flowmcp/SKILL.md`, {SKILL_GENERATOR}) and a logo. Needs uv (`uvx`) and a project with
Metaflow. The folder is a plugin and a marketplace of one plugin, for both clients:

- **Claude Code**: `claude plugin marketplace add ./<this folder>`, then
  `claude plugin install flowmcp@flowmcp` (or `claude --plugin-dir ./<this folder>` for one session).
- **Cursor**: add the folder (or its repository) as a plugin marketplace, then install `flowmcp`.

Version {__version__}; regenerate with `flowmcp init --plugin` after upgrading flowmcp.
"""


def main(folder: str, dry_run: bool) -> int:
    target = Path(folder).expanduser().resolve()
    if target.exists() and not target.is_dir():
        print(f"flowmcp init --plugin: {target} is not a folder", file=sys.stderr)
        return 2
    changes = write_bundle(target, dry_run)
    verb = {"created": "would create", "updated": "would update"} if dry_run else {}
    for change in changes:
        detail = f": {change.detail}" if change.detail else ""
        print(f"{verb.get(change.action, change.action):>13}  {change.path.relative_to(target)}{detail}")
    print(f"\nThe flowmcp plugin is in {target}: a plugin and a one-plugin marketplace for Claude Code "
          "(.claude-plugin) and Cursor (.cursor-plugin); its README says how to install it.")
    return 1 if any(c.action == "skipped" for c in changes) else 0
