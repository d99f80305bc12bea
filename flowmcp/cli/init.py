"""`flowmcp init`: register flowmcp with the project's coding agents and teach them the workflow.

Writes each client's MCP config (merging into what is there) and puts the workflow rules into
CLAUDE.md and AGENTS.md between markers. Idempotent; never drops the user's content (comments,
line endings): a file it cannot parse is left alone and reported, and so is a path that leads out
of the project through a link.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..server.workflow import BEGIN, END, SKILL_GENERATOR, agent_rules, launch_command, skill_text
from ..state.clients import CLIENT_CONFIGS, SERVER_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CLIENTS = ("claude", "cursor", "vscode", "codex")


@dataclass
class Change:
    path: Path
    action: str  # created | updated | unchanged | skipped
    detail: str = ""


# Where each client reads a project's Agent Skills (a folder with a SKILL.md): Claude Code in
# .claude/skills, Codex (and others following the agent-skills standard) in .agents/skills.
SKILL_FOLDERS = {"claude": (".claude", "skills"), "codex": (".agents", "skills")}


def init_project(root: Path, clients: list[str], *, dry_run: bool = False,
                 python: str | None = None, server_options: list[str] | None = None,
                 skill: bool = False) -> list[Change]:
    root = root.resolve()
    command, args = launch_command(root, python, server_options)
    plan: list[tuple[Path, Any]] = []
    for client in clients:
        file, key = CLIENT_CONFIGS[client]
        if client == "codex":
            plan.append((root / file, lambda text: _toml_server(text, command, args)))
            continue
        spec = {"type": "stdio", "command": command, "args": args} if client == "vscode" else {
            "command": command, "args": args}
        plan.append((root / file, lambda text, key=key, spec=spec: _json_server(text, key, spec)))
    rules = agent_rules()
    if "claude" in clients:
        plan.append((root / "CLAUDE.md", lambda text: _marked_section(text, rules)))
    if any(c in clients for c in ("cursor", "vscode", "codex")):
        plan.append((root / "AGENTS.md", lambda text: _marked_section(text, rules)))
    if skill:
        text = skill_text(command, args)
        for client in clients:
            if client in SKILL_FOLDERS:
                plan.append((root.joinpath(*SKILL_FOLDERS[client], SERVER_NAME, "SKILL.md"),
                             lambda old, text=text: _skill_file(old, text)))
    return [_apply(root, path, edit, dry_run) for path, edit in plan]


def _skill_file(old: str, new: str) -> str:
    """Our SKILL.md: its frontmatter and the marked block are ours, anything the user added after
    the block stays. A SKILL.md flowmcp did not write is the user's: left alone."""
    if not old.strip():
        return new
    frontmatter = re.match(r"---\n.*?\n---\n", old, re.DOTALL)
    if frontmatter is None or SKILL_GENERATOR not in frontmatter.group(0):
        raise ValueError("a skill of that name exists that flowmcp did not write")
    body = old[frontmatter.end():]
    fresh = re.match(r"---\n.*?\n---\n", new, re.DOTALL)
    block = new[fresh.end():].strip("\n")
    _check_markers(body, BEGIN, END)
    if BEGIN not in body:
        raise ValueError("its flowmcp markers are gone, so flowmcp cannot tell its text from yours")
    return fresh.group(0) + _replace_between(body, BEGIN, END, block)


def _apply(root: Path, path: Path, edit, dry_run: bool) -> Change:
    real = Path(os.path.realpath(path))
    if real != root and root not in real.parents:  # a cloned repository can carry links to anywhere
        return Change(path, "skipped", f"it leads out of the project through a link (to {real}); flowmcp init "
                                       "writes only inside the project: replace the link, or add flowmcp there by hand")
    if path.exists() and not path.is_file():
        return Change(path, "skipped", "it is not a regular file (a folder?); rename it, then run flowmcp init again")
    try:
        old = _read(path) if path.exists() else None
    except (OSError, UnicodeDecodeError) as ex:
        return Change(path, "skipped", f"it cannot be read ({type(ex).__name__}: {ex})")
    newline = "\r\n" if old and "\r\n" in old else "\n"  # a file with Windows line endings keeps them
    try:
        new = edit((old or "").replace("\r\n", "\n")).replace("\n", newline)
    except ValueError as ex:
        return Change(path, "skipped", f"{ex}; fix or remove it, then run flowmcp init again")
    if new == old:
        return Change(path, "unchanged")
    if not dry_run:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as file:
                file.write(new)
        except OSError as ex:
            return Change(path, "skipped", f"it cannot be written ({type(ex).__name__}: {ex})")
    return Change(path, "created" if old is None else "updated")


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as file:  # line endings as they are
        return file.read()


def _json_server(text: str, key: str, spec: dict[str, Any]) -> str:
    """Set key.flowmcp in a JSON config; every other server and setting is kept as it was. A file
    that reading and writing back would change (a key given twice, a number with more digits
    than a float keeps) is refused: the user's text would not survive the rewrite."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_float=_exact_float) if text.strip() else {}
    except json.JSONDecodeError as ex:
        raise ValueError(f"not valid JSON ({ex.msg}, line {ex.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get(key, {}), dict):
        raise ValueError(f"expected a JSON object with an object under {key!r}")
    servers = data.setdefault(key, {})
    if servers.get(SERVER_NAME) == spec:
        return text
    servers[SERVER_NAME] = spec
    return json.dumps(data, indent=2) + "\n"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"it gives the key {twice[0]!r} twice, and rewriting it would drop one; keep one, "
                         "or add the flowmcp server to it by hand")
    return dict(pairs)


def _exact_float(literal: str) -> float:
    value = float(literal)
    if float(repr(value)) != value or _digits(repr(value)) != _digits(literal):
        raise ValueError(f"it holds the number {literal[:40]}, which rewriting would change to {value!r}; "
                         "add the flowmcp server to it by hand")
    return value


def _digits(literal: str) -> str:
    """The significant digits of a number's text (1.50 and 1.5e0 agree; 0.1000000000000000055 does not)."""
    mantissa = literal.lower().split("e")[0].lstrip("+-").replace(".", "").strip("0")
    return mantissa or "0"


def _toml_server(text: str, command: str, args: list[str]) -> str:
    """Set mcp_servers.flowmcp in Codex's TOML, merged into the user's document: their comments,
    servers and settings stay as written, and so do any keys they added to our table (env, ...).
    tomlkit is imported here only: `flowmcp init` is the one command that writes TOML."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import InlineTable

    try:
        before = tomllib.loads(text)
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as ex:
        raise ValueError(f"not valid TOML ({ex})") from None
    servers = doc.get("mcp_servers")
    if servers is None:
        servers = doc["mcp_servers"] = tomlkit.table(is_super_table=True)  # written as [mcp_servers.flowmcp]
    if not isinstance(servers, dict):
        raise ValueError("its mcp_servers is not a table")
    ours = servers.get(SERVER_NAME)
    if ours is None:
        ours = tomlkit.inline_table() if isinstance(servers, InlineTable) else tomlkit.table()
        ours.update(command=command, args=args)
        if not isinstance(ours, InlineTable):
            ours.add(tomlkit.nl())  # a blank line before whatever table follows
        servers[SERVER_NAME] = ours
    elif not _launches_flowmcp(ours):
        raise ValueError(f"it already has an mcp_servers.{SERVER_NAME} entry that does not start flowmcp")
    elif ours.get("command") == command and ours.get("args") == args:
        return text
    else:
        ours["command"], ours["args"] = command, args
    new = tomlkit.dumps(doc).rstrip("\n") + "\n"
    # Never write a file the client cannot read, nor one where anything but our entry moved.
    before.setdefault("mcp_servers", {}).setdefault(SERVER_NAME, {}).update(command=command, args=args)
    if tomllib.loads(new) != before:
        raise ValueError(f"rewriting it would change more than mcp_servers.{SERVER_NAME}; add that entry by hand")
    return new


def _launches_flowmcp(spec: object) -> bool:
    """An entry flowmcp may update: it starts flowmcp (our command, or `python -m flowmcp`)."""
    if not isinstance(spec, dict):
        return False
    args = spec.get("args")
    return Path(str(spec.get("command", ""))).name == SERVER_NAME or (
        isinstance(args, list) and args[:2] == ["-m", SERVER_NAME])


def _marked_section(text: str, rules: str) -> str:
    block = f"{BEGIN}\n{rules.rstrip()}\n{END}"
    _check_markers(text, BEGIN, END)
    if BEGIN in text:
        return _replace_between(text, BEGIN, END, block)
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"


def _check_markers(text: str, begin: str, end: str) -> None:
    """One begin marker before one end marker, or none of either. Anything else (an end marker
    deleted by hand, a block pasted twice) would make the replacement take the user's text with
    it: refuse, and change nothing."""
    begins, ends = text.count(begin), text.count(end)
    if (begins, ends) == (0, 0) or ((begins, ends) == (1, 1) and text.index(begin) < text.index(end)):
        return
    raise ValueError(f"its flowmcp markers are not one begin followed by one end ({begins} begin, {ends} end), "
                     "so flowmcp cannot tell its block from your text")


def _replace_between(text: str, begin: str, end: str, block: str) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    return pattern.sub(lambda _: block, text, count=1)


def main(root: str | None, client: str, dry_run: bool, python: str | None,
         server_options: list[str] | None = None, skill: bool = False) -> int:
    clients = list(CLIENTS) if client == "all" else [client]
    project = Path(root or ".").expanduser().resolve()
    if not project.is_dir():
        raise ValueError(f"project root {project} is not a directory")
    changes = init_project(project, clients, dry_run=dry_run, python=python, server_options=server_options,
                           skill=skill)
    verb = {"created": "would create", "updated": "would update"} if dry_run else {}
    for change in changes:
        action = verb.get(change.action, change.action)
        detail = f": {change.detail}" if change.detail else ""
        print(f"{action:>13}  {change.path.relative_to(project)}{detail}")
    command, args = launch_command(project, python, server_options)
    print(f"\nflowmcp starts as: {command} {' '.join(args)}")
    if "claude" in clients:
        print("Claude Code asks to approve project servers from .mcp.json the first time it starts here.")
    return 1 if any(c.action == "skipped" for c in changes) else 0
