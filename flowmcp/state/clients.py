"""The project's MCP client configs (Claude Code's .mcp.json, Cursor's, VS Code's, Codex's TOML)
and which of their entries start flowmcp: read by `flowmcp doctor`, written by `flowmcp init`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SERVER_NAME = "flowmcp"

# Where each client reads a project's MCP servers: the file, and the key that holds them.
CLIENT_CONFIGS = {
    "claude": (".mcp.json", "mcpServers"),
    "cursor": (".cursor/mcp.json", "mcpServers"),
    "vscode": (".vscode/mcp.json", "servers"),
    "codex": (".codex/config.toml", "mcp_servers"),
}


@dataclass(frozen=True)
class Registered:
    """A server entry of a client config that starts flowmcp (or the reason the file cannot be read)."""

    file: str  # relative to the root
    server: str = ""
    command: str = ""
    root: str | None = None  # its --root (None: the folder the client starts it in)
    python: str | None = None  # its --python
    error: str | None = None


def registered_servers(root: Path) -> list[Registered]:
    """The entries of the project's client configs that start flowmcp, whatever their name."""
    found = []
    for file, key in CLIENT_CONFIGS.values():
        path = root / file
        if not path.is_file():
            continue
        try:
            text = path.read_text()
            data = tomllib.loads(text) if file.endswith(".toml") else json.loads(text or "{}")
        except (OSError, UnicodeDecodeError, ValueError) as ex:
            found.append(Registered(file, error=f"cannot be read ({type(ex).__name__}: {ex})"))
            continue
        servers = data.get(key) if isinstance(data, dict) else None
        for name, spec in (servers or {}).items() if isinstance(servers, dict) else ():
            if not isinstance(spec, dict):
                continue
            command = str(spec.get("command") or "")
            args = [str(a) for a in spec.get("args") or [] if isinstance(a, (str, int, float))]
            if Path(command).name != SERVER_NAME and name != SERVER_NAME and SERVER_NAME not in args[:2]:
                continue
            found.append(Registered(file, name, command, _option(args, "--root"), _option(args, "--python")))
    return found


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None
