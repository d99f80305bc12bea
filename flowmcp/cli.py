"""The `flowmcp` command: serve over stdio (default) or HTTP, or run the bundled demo."""

from __future__ import annotations

import argparse
import contextlib
import sys

from . import __version__
from .config import DEFAULT_KEEP_SPINS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


PROJECT_OPTIONS = ("root", "python", "keep_spins", "no_warm")
SUB = "_sub"  # suffix of a project option's destination when given after the command


def _add_project_options(parser: argparse.ArgumentParser, suffix: str = "") -> None:
    """The options that say which project is served and how. They may come before the command
    (`flowmcp --root DIR call ...`) or after it; every default is left out of the namespace, so
    an option given in one place is never overwritten by the other place's default."""
    parser.add_argument("--root", metavar="DIR", dest="root" + suffix, default=argparse.SUPPRESS,
                        help="project root (default: the current directory)")
    parser.add_argument("--python", metavar="PATH", dest="python" + suffix, default=argparse.SUPPRESS,
                        help="interpreter that runs the flows (default: $VIRTUAL_ENV, ./.venv, or this one)")
    parser.add_argument("--keep-spins", type=int, default=argparse.SUPPRESS, metavar="N", dest="keep_spins" + suffix,
                        help=f"spins kept per flow; older ones are deleted (default {DEFAULT_KEEP_SPINS}; "
                        "persisted spins are kept at least an hour)")
    parser.add_argument("--no-warm", action="store_true", default=argparse.SUPPRESS, dest="no_warm" + suffix,
                        help="start a new interpreter for every spin instead of forking a warm worker "
                        "that keeps Metaflow and the flow's libraries imported")


def _merge_project_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One value per project option, wherever it was given; the same option given twice with
    different values is refused rather than one of them silently ignored."""
    for name in PROJECT_OPTIONS:
        before, after = getattr(args, name, None), getattr(args, name + SUB, None)
        if hasattr(args, name + SUB):
            delattr(args, name + SUB)
        if before is not None and after is not None and before != after:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} is given twice, before and after {args.command!r}, with different values "
                         f"({before!r} and {after!r}); give it once")
        setattr(args, name, after if after is not None else before)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowmcp",
        description="MCP server that lets coding agents run, spin and inspect Metaflow flows. "
        "With no command, serves MCP over stdio.",
    )
    _add_project_options(parser)
    parser.add_argument("--version", action="version",
                        version=f"flowmcp {__version__} (Python {sys.version.split()[0]}; {sys.executable})")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve MCP (stdio unless --http)")
    _add_project_options(serve, SUB)
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"HTTP bind address (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    serve.add_argument("--token", help="bearer token every HTTP request must carry (or set FLOWMCP_TOKEN); "
                       "required to bind anything but loopback")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                       help="another Host name clients use to reach the server (DNS-rebinding protection)")
    init = commands.add_parser("init", help="register flowmcp with this project's coding agents")
    init.add_argument("--client", choices=["claude", "cursor", "vscode", "codex", "all"], default="all",
                      help="which client to configure (default: all)")
    init.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    _add_project_options(init, SUB)
    call = commands.add_parser("call", help="call one tool without an MCP client (scripts, CI)")
    call.add_argument("tool", help="tool name, e.g. spin")
    call.add_argument("--args", default="{}", metavar="JSON", help="the tool's arguments as a JSON object")
    call.add_argument("--json", action="store_true", help="print the structured result instead of the text")
    _add_project_options(call, SUB)
    demo = commands.add_parser("demo", help="walk an agent's loop on a bundled example project")
    demo.add_argument("--dir", help="where to copy the example (default: a new temporary directory)")
    demo.add_argument("--python", metavar="PATH", dest="python" + SUB, default=argparse.SUPPRESS,
                      help="interpreter that runs the example's flow")
    return parser


def _server_options(args: argparse.Namespace) -> list[str]:
    """The options that change how the registered server behaves, as `init` writes them."""
    options = []
    if args.keep_spins is not None:
        options += ["--keep-spins", str(args.keep_spins)]
    if args.no_warm:
        options.append("--no-warm")
    return options


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _merge_project_options(parser, args)
    if args.command == "init":
        from .init import main as init_main

        try:
            return init_main(args.root, args.client, args.dry_run, args.python,
                             server_options=_server_options(args))
        except ValueError as ex:
            print(f"flowmcp init: {ex}", file=sys.stderr)
            return 2
    if args.command == "demo":
        from .demo import run_demo

        misplaced = [f"--{n.replace('_', '-')}" for n in ("root", "keep_spins", "no_warm") if getattr(args, n)]
        if misplaced:
            parser.error(f"{', '.join(misplaced)} does not apply to demo: it makes its own project "
                         "(--dir DIR chooses where)")
        return run_demo(args.dir, python=args.python)
    early_worker = None
    if args.command != "call":
        # A server lives for a session: its first spin should not wait for imports. The worker
        # starts now, while this process imports the server's own stack (see bridge/early.py).
        from .bridge import early
        from .config import Config

        with contextlib.suppress(ValueError):  # App.create below says what is wrong
            early_worker = early.start(Config.create(args.root, args.python, warm=not args.no_warm))
    from .app import App
    from .server import build_server

    try:
        app = App.create(args.root, args.python,
                         keep_spins=DEFAULT_KEEP_SPINS if args.keep_spins is None else args.keep_spins,
                         warm=not args.no_warm)
    except ValueError as ex:
        print(f"flowmcp: {ex}", file=sys.stderr)
        return 2
    if args.command == "call":
        from .headless import call

        return call(app, args.tool, args.args, args.json)
    app.prewarm = True
    if early_worker is not None:
        app.bridge.jobs.warm.adopt(early_worker)
    server = build_server(app)
    if args.command == "serve" and args.http:
        from .http import TokenRequired, serve

        try:
            serve(server, args.host, args.port, args.token, args.allowed_host)
        except TokenRequired as ex:
            print(f"flowmcp: {ex}", file=sys.stderr)
            return 2
    else:
        server.run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
