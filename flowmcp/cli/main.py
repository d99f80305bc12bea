"""The `flowmcp` command: serve over stdio (default) or HTTP, or run the bundled demo."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import socket
import sys

from .. import __version__
from ..state.interpreter import DEFAULT_KEEP_SPINS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


PROJECT_OPTIONS = ("root", "python", "keep_spins", "no_warm", "browser")
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
    parser.add_argument("--browser", metavar="PATH", dest="browser" + suffix, default=argparse.SUPPRESS,
                        help="Chromium or Chrome that view_card renders cards with (default: $FLOWMCP_BROWSER, "
                        "then chromium, google-chrome and the like on PATH)")


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
                       "required to bind anything but loopback. Without one, loopback serves this user's "
                       "clients alone (Linux tells who connects; elsewhere a token is required)")
    serve.add_argument("--any-local-user", action="store_true",
                       help="loopback without a token serves every user of this machine, not only you")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                       help="another Host name clients use to reach the server (DNS-rebinding protection)")
    init = commands.add_parser("init", help="register flowmcp with this project's coding agents")
    init.add_argument("--client", choices=["claude", "cursor", "vscode", "codex", "all"], default="all",
                      help="which client to configure (default: all)")
    init.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    init.add_argument("--skill", action="store_true",
                      help="also install an Agent Skill (SKILL.md: the workflow and the `flowmcp call` commands) "
                      "where Claude Code (.claude/skills) and Codex (.agents/skills) read a project's skills")
    init.add_argument("--plugin", nargs="?", const=_DEFAULT_PLUGIN_DIR, metavar="DIR",
                      help="instead, write flowmcp as a plugin for the Claude Code and Cursor marketplaces (the "
                      f"server, its prompts and the skill in one install) into DIR (default ./{_DEFAULT_PLUGIN_DIR})")
    _add_project_options(init, SUB)
    call = commands.add_parser("call", help="call one tool without an MCP client (scripts, CI)", add_help=False)
    call.add_argument("-h", "--help", action=_CallHelp, help="show this help and every tool, then exit")
    call.add_argument("tool", nargs="?", help="tool name, e.g. spin (without one: the tools)")
    call.add_argument("--args", default="{}", metavar="JSON", help="the tool's arguments as a JSON object")
    call.add_argument("--json", action="store_true", help="print the structured result instead of the text")
    call.add_argument("--out", metavar="PATH", help="write the answer's pictures (view_card; inspect_artifact "
                      "with as_image) to PATH (several: PATH's name with -1, -2, ...); without it they go to a "
                      "new folder in the temporary directory. The answer says where")
    call.add_argument("--no-daemon", action="store_true",
                      help="run the call in this process instead of the root's project server (also: "
                      "FLOWMCP_NO_DAEMON=1)")
    _add_idle_option(call)
    _add_project_options(call, SUB)
    daemon = commands.add_parser("daemon", help="the project server that `flowmcp call` reuses: status, stop, start")
    actions = daemon.add_subparsers(dest="action", required=True, metavar="{status,stop,start}")
    for action, text in (("status", "show the root's project servers"), ("stop", "stop the root's project servers"),
                         ("start", "start the project server for these options (a call starts one when needed)")):
        sub = actions.add_parser(action, help=text)
        _add_project_options(sub, SUB)
        if action == "start":
            _add_idle_option(sub)
    serve_daemon = actions.add_parser("run")  # what `flowmcp call` starts in the background
    serve_daemon.add_argument("--server", required=True)
    serve_daemon.add_argument("--flow")
    _add_idle_option(serve_daemon)
    _add_project_options(serve_daemon, SUB)
    doctor = commands.add_parser("doctor", help="check the set-up: the project's Python, its Metaflow, the user name, "
                                 "the profile's datastore and metadata service, warm workers, spins, client configs")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    _add_project_options(doctor, SUB)
    demo = commands.add_parser("demo", help="walk an agent's loop on a bundled example project")
    demo.add_argument("--dir", help="where to copy the example (default: a new temporary directory)")
    demo.add_argument("--python", metavar="PATH", dest="python" + SUB, default=argparse.SUPPRESS,
                      help="interpreter that runs the example's flow")
    return parser


class _CallHelp(argparse.Action):
    """`flowmcp call --help`: the options, then every tool with its purpose and arguments (read
    from the tools' own schemas, so it cannot drift), then the exit statuses."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from .reference import call_help

        print(parser.format_help() + "\n" + call_help())
        parser.exit()


_DEFAULT_PLUGIN_DIR = "flowmcp-plugin"  # flowmcp/cli/plugin.py's DEFAULT_DIR, without importing it here


def _add_idle_option(parser: argparse.ArgumentParser) -> None:
    from ..daemon.identity import DEFAULT_IDLE_S, IDLE_ENV

    parser.add_argument("--idle-timeout", type=float, metavar="SECONDS", default=None,
                        help=f"a project server this starts stops after this long unused (default "
                        f"${IDLE_ENV} or {DEFAULT_IDLE_S:g})")


def _idle_s(parser: argparse.ArgumentParser, args: argparse.Namespace) -> float:
    from ..daemon.identity import idle_seconds

    try:
        return idle_seconds(args.idle_timeout, os.environ)
    except ValueError as ex:
        parser.error(str(ex))


def _server_options(args: argparse.Namespace) -> list[str]:
    """The options that change how the registered server behaves, as `init` writes them."""
    options = []
    if args.keep_spins is not None:
        options += ["--keep-spins", str(args.keep_spins)]
    if args.no_warm:
        options.append("--no-warm")
    return options


def main(argv: list[str] | None = None) -> int:
    closed = _open_closed_standard_fds()
    parser = build_parser()
    args = parser.parse_args(argv)
    _merge_project_options(parser, args)
    if args.command in (None, "serve") or (args.command == "daemon" and args.action == "run"):
        # A server's start is mostly imports (the MCP SDK builds its types, pydantic its schemas):
        # the cyclic collector finds nothing to free there and costs ~8% of it. `_started` below
        # turns it on again and moves what the start made out of its way (gc.freeze).
        gc.disable()
    if args.command == "init" and args.plugin is not None:
        from .plugin import main as plugin_main

        return plugin_main(args.plugin, args.dry_run)
    if args.command == "init":
        from .init import main as init_main

        try:
            return init_main(args.root, args.client, args.dry_run, args.python,
                             server_options=_server_options(args), skill=args.skill)
        except ValueError as ex:
            print(f"flowmcp init: {ex}", file=sys.stderr)
            return 2
    if args.command == "demo":
        from .demo import run_demo

        misplaced = [f"--{n.replace('_', '-')}" for n in ("root", "keep_spins", "no_warm", "browser")
                     if getattr(args, n)]
        if misplaced:
            parser.error(f"{', '.join(misplaced)} does not apply to demo: it makes its own project "
                         "(--dir DIR chooses where)")
        return run_demo(args.dir, python=args.python)
    if args.command == "doctor":
        from ..app.doctor import run_doctor

        return run_doctor(args.root, args.python, keep_spins=_keep_spins(args), warm=not args.no_warm,
                          browser=args.browser, as_json=args.json)
    if args.command == "call":
        return _call(parser, args)
    if args.command == "daemon" and args.action != "run":
        return _daemon(parser, args)
    early_worker = None
    if args.command != "call":
        # A server lives for a session: its first spin should not wait for imports. The worker
        # starts now, while this process imports the server's own stack (see bridge/early.py).
        from ..bridge import early
        from ..state.config import Config

        with contextlib.suppress(ValueError):  # App.create below says what is wrong
            config = Config.create(args.root, args.python, warm=not args.no_warm, browser=args.browser)
            flow = config.root / args.flow if args.command == "daemon" and args.flow else None
            early_worker = early.start(config, flow)
    from ..app import App

    try:
        app = App.create(args.root, args.python, keep_spins=_keep_spins(args), warm=not args.no_warm,
                         browser=args.browser)
    except ValueError as ex:
        print(f"flowmcp: {ex}", file=sys.stderr)
        return 2
    app.prewarm = early_worker is None
    if early_worker is not None:
        app.bridge.jobs.warm.adopt(early_worker)
    if args.command == "daemon":
        from ..daemon import server as project_server

        return project_server.run(app, _daemon_options(app.config), args.server, _idle_s(parser, args), args.flow)
    from ..server.build import build_server, started

    server = build_server(app)
    started()
    if args.command == "serve" and args.http:
        from ..server.http import TokenRequired, serve

        try:
            serve(server, args.host, args.port, args.token, args.allowed_host, args.any_local_user)
        except TokenRequired as ex:
            print(f"flowmcp: {ex}", file=sys.stderr)
            return 2
    elif 0 in closed or 1 in closed:
        which = "input" if 0 in closed else "output"
        print(f"flowmcp: standard {which} is closed, so no client can talk to this server: an MCP client starts "
              "it with a pipe on its stdin and stdout (or serve over HTTP: flowmcp serve --http)", file=sys.stderr)
        return 2
    else:
        import anyio

        from ..server.stdio import serve as serve_stdio

        anyio.run(serve_stdio, server)
    return 0


def _open_closed_standard_fds() -> list[int]:
    """Point a closed stdin, stdout or stderr at the null device, and say which were closed. A
    launcher may start us with one closed; the next file opened would then take its number (the
    event loop's own, say), and the stdio transport, which puts the null device on fd 0 and 1
    while it serves, would replace that file under it."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        devnull = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
    if 0 in closed:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the standard stream, for the life of the process)
    return closed


def _keep_spins(args: argparse.Namespace) -> int:
    return DEFAULT_KEEP_SPINS if args.keep_spins is None else args.keep_spins


def _project_config(args: argparse.Namespace):
    from ..state.config import Config

    return Config.create(args.root, args.python, keep_spins=_keep_spins(args), warm=not args.no_warm,
                         browser=args.browser)


def _daemon_options(config):
    from ..daemon.identity import Options

    return Options.of(config)


def _call(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`flowmcp call`: through the root's project server, else in this process."""
    from .headless import USAGE, check_out, parse_arguments

    if args.tool is None:
        from .reference import call_help

        print(call_help())
        print("\nflowmcp call: name a tool, e.g. flowmcp call flow_status --args '{\"flow\": \"flow.py\"}'",
              file=sys.stderr)
        return USAGE
    arguments = parse_arguments(args.args)
    if arguments is None or not check_out(args.out):
        return USAGE
    # The project server gets the caller's environment: only where the kernel says who listens.
    if not (args.no_daemon or os.environ.get("FLOWMCP_NO_DAEMON") or not hasattr(socket, "SO_PEERCRED")):
        from ..daemon import client
        from ..daemon.identity import Options

        try:  # resolved as the server resolves them, without importing its configuration
            options = Options.resolve(args.root, args.python, _keep_spins(args), not args.no_warm, args.browser)
        except ValueError as ex:
            print(f"flowmcp: {ex}", file=sys.stderr)
            return USAGE
        flow = arguments.get("flow") if isinstance(arguments.get("flow"), str) else None
        try:
            return client.call(options, options.argv(explicit_python=bool(args.python)), args.tool, arguments,
                               args.json, _idle_s(parser, args), flow, out=args.out)
        except client.Unavailable as ex:
            print(f"flowmcp call: {ex}; this call runs in-process", file=sys.stderr)
    try:
        config = _project_config(args)
    except ValueError as ex:
        print(f"flowmcp: {ex}", file=sys.stderr)
        return USAGE
    from ..app import App
    from .headless import call

    return call(App(config), args.tool, arguments, args.json, out=args.out)


def _daemon(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`flowmcp daemon status|stop|start`."""
    from ..daemon import client

    try:
        config = _project_config(args)
    except ValueError as ex:
        print(f"flowmcp: {ex}", file=sys.stderr)
        return 2
    try:
        return _daemon_action(parser, args, config)
    except client.Untrusted as ex:
        print(f"flowmcp daemon {args.action}: refused the project server's socket. {ex}", file=sys.stderr)
        return 1


def _daemon_action(parser: argparse.ArgumentParser, args: argparse.Namespace, config) -> int:
    from ..daemon import client

    if args.action == "start":
        from ..daemon.identity import Paths, server_id

        options = _daemon_options(config)
        paths = Paths.of(options.root, server_id(options, os.environ))
        try:
            connection = client.connect(paths, dict(os.environ), options.argv(explicit_python=bool(args.python)),
                                        _idle_s(parser, args), None, op="status")
        except client.Unavailable as ex:
            print(f"flowmcp daemon start: {ex}", file=sys.stderr)
            return 1
        connection.close()
        print(f"project server pid {connection.reply.get('pid')} serves {options.root} (socket {paths.socket})")
        return 0
    found = client.servers(str(config.root))
    if args.action == "stop":
        outcomes = [(info, client.stop(paths, info)) for paths, info, _status in found]
        stopped = [info for info, outcome in outcomes if outcome == "stopped"]
        print(f"stopped {len(stopped)} project server{'s' if len(stopped) != 1 else ''} of {config.root}"
              if stopped else f"no project server was running for {config.root}")
        for info, outcome in outcomes:
            if outcome == "stale":
                print(f"a stale record named pid {info.get('pid')}, which is another process now: "
                      "nothing was signalled, the record is removed")
        return 0
    from ..daemon.identity import server_id

    mine = server_id(_daemon_options(config), os.environ)
    running = 0
    for paths, info, status in found:
        if status is None:
            pid = (info or {}).get("pid")
            if client.is_running(paths, info):  # alive but silent: say so, never stop it here
                print(f"✗ pid {pid} does not answer on {paths.socket}; `flowmcp daemon stop` ends it")
                running += 1
            else:
                client.stop(paths, info)  # its record is stale: the files go
            continue
        running += 1
        print(_status_line(status, paths, paths.id == mine))
    if not running:
        print(f"no project server is running for {config.root}")
    return 0 if running else 1


def _status_line(status: dict, paths, yours: bool) -> str:
    busy = status.get("connections") or status.get("background_runs")
    state = "busy" if busy else (f"idle {_duration(status.get('idle_s') or 0)} "
                                 f"(stops at {_duration(status.get('idle_stop_s') or 0)})")
    options = [f"python {status.get('python')}"] + ([] if status.get("warm") else ["--no-warm"])
    counts = ", ".join(_count(status.get(key) or 0, name) for key, name in (
        ("calls", "call"), ("warm_workers", "warm worker"), ("background_runs", "background run")))
    return (f"✓ pid {status.get('pid')}, up {_duration(status.get('uptime_s') or 0)}, {state}, {counts}; "
            f"{', '.join(options)}; flowmcp {status.get('build')}"
            f"{' (serves calls from this shell)' if yours else ''}; socket {paths.socket}")


def _count(n: int, name: str) -> str:
    return f"{n} {name}{'' if n == 1 else 's'}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


if __name__ == "__main__":
    sys.exit(main())
