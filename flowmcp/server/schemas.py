"""A tool's input schema in words: the one wording of what a tool takes, for the server's
unknown-argument error and for `flowmcp call`'s usage errors (standard library only: `flowmcp call`
imports it without the MCP SDK)."""

from __future__ import annotations

import difflib


def usage_problem(tool: str, schema: dict, arguments: dict) -> str | None:
    """A missing or unknown argument is the caller's usage error (exit 2), said in one line with
    what the tool takes; the tool's own checks (types, ranges) answer as tool errors."""
    properties = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    takes = arguments_taken(schema)
    missing = [name for name in required if name not in arguments]
    if missing:
        return f"missing required argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}; it takes: {takes}"
    unknown = [name for name in arguments if name not in properties]
    if unknown:
        return f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; it takes: {takes}"
    return None


def arguments_taken(schema: dict) -> str:
    """'flow (required), step (required), run': the arguments a tool's input schema takes."""
    required = set(schema.get("required") or [])
    return ", ".join(f"{name}{' (required)' if name in required else ''}" for name in schema.get("properties") or {})


def unknown_arguments(schema: dict, arguments: dict) -> str | None:
    """'unknown argument run_pathspec (did you mean run?); it takes: …', or None."""
    properties = schema.get("properties") or {}
    unknown = [name for name in arguments if name not in properties]
    if not unknown:
        return None
    said = []
    for name in unknown[:5]:
        # a name it contains (run_pathspec → run), else a close spelling (stauts → status)
        parts = sorted((p for p in properties if p in name.lower().split("_")), key=len, reverse=True)
        close = parts[:1] or difflib.get_close_matches(name, list(properties), n=1, cutoff=0.5)
        said.append(f"{name[:60]}" + (f" (did you mean {close[0]}?)" if close else ""))
    return (f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(said)}; nothing was done. "
            f"It takes: {arguments_taken(schema)}")
