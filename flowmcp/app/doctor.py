"""`flowmcp doctor` and the `doctor` tool: is this machine set up for flowmcp, and if not, what fixes it.

One line per check, each ✓ (works), ! (works, but worth fixing) or ✗ (broken: flowmcp cannot do
its work until it is fixed), with the fix on the line below. The project's side is asked by one
job (the ENVIRONMENT op, `bridge/project/environment.py`), which tries the profile's datastore
and metadata service for real; the rest is read here. Exit status: 1 when any check is ✗.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..bridge import metaflow_compat as layout
from ..bridge import protocol as p
from ..bridge.client import metaflow_fix, supported_pin
from ..errors import FlowmcpError
from ..state.config import DEFAULT_KEEP_SPINS, DEFAULT_USER, environ

OK, WARN, FAIL = "ok", "warn", "fail"
MARKS = {OK: "✓", WARN: "!", FAIL: "✗"}
SPIN_FOLDER_WARN_MB = 1024  # above this, the spin folder is said to be worth emptying (FLOWMCP_SPIN_WARN_MB)
SOURCES = {
    "--python": "given with --python",
    "$VIRTUAL_ENV": "the active virtualenv ($VIRTUAL_ENV)",
    ".venv": "the project's .venv",
    "server": "flowmcp's own: no --python, no $VIRTUAL_ENV, no .venv in the root",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    text: str  # what was found
    fix: str | None = None

    def line(self) -> str:
        """One line (an error quoted in the text keeps its lines, joined by " / "), and the fix."""
        text = " / ".join(part.strip() for part in self.text.splitlines() if part.strip())
        head = f"{MARKS[self.status]} {self.name}: {text}"
        return head if not self.fix else f"{head}\n    fix: {self.fix}"


@dataclass(frozen=True)
class Report:
    root: Path
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def text(self) -> str:
        failed = sum(check.status == FAIL for check in self.checks)
        warned = sum(check.status == WARN for check in self.checks)
        if failed:
            verdict = f"{failed} check(s) failed: flowmcp cannot work here until the ✗ lines are fixed."
        elif warned:
            verdict = f"Everything flowmcp needs works; {warned} line(s) marked ! are worth a look."
        else:
            verdict = "Everything flowmcp needs works."
        return "\n".join([f"flowmcp doctor — project {self.root}", *(c.line() for c in self.checks), verdict])

    def record(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


async def diagnose(app, *, probe: bool = True, warm: bool = True) -> Report:
    """Every check, for the server `app` serves. `probe` tries the remote stores; `warm` starts
    a warm worker to see that one starts."""
    config = app.config
    checks: list[Check] = []
    try:
        env = await app.bridge.environment(probe=probe)
    except FlowmcpError as ex:
        env = None
        checks.append(Check("interpreter", FAIL, f"{config.python} did not answer: {ex}",
                            "start flowmcp with --python pointing at the project's Python (3.9 or newer)"))
    usable = env is not None and bool((env.get("metaflow") or {}).get("supported"))
    if env is not None:
        checks.append(_interpreter(config, env))
        checks.extend(_metaflow(env))
        if usable:  # what follows is read through Metaflow itself
            checks.append(_user(env))
            checks.extend(_stores(env))
    if warm:
        checks.append(await _warm(app, usable))
    checks.append(await _browser(config))
    checks.append(_spins(config))
    checks.extend(client_configs(config.root))
    return Report(config.root, checks)


def failed_to_start(root: str | None, message: str) -> Report:
    """The report when the options themselves are wrong (a root or --python that does not exist)."""
    where = Path(root or ".").expanduser().absolute()
    return Report(where, [Check("options", FAIL, message, "pass a project folder with --root and an existing "
                                "interpreter with --python")])


def _interpreter(config, env: p.EnvironmentRecord) -> Check:
    chosen = SOURCES.get(config.python_source, config.python_source)
    text = f"{config.python} (Python {env['python_version']}), {chosen}"
    if tuple(int(n) for n in env["python_version"].split(".")[:2]) < (3, 9):
        return Check("interpreter", FAIL, text, "flowmcp runs flows with Python 3.9 or newer: pass --python")
    return Check("interpreter", OK, text)


def _metaflow(env: p.EnvironmentRecord) -> list[Check]:
    python = env["python"]
    dists = env.get("distributions") or []
    if "import_error" in env:
        profile = environ().get("METAFLOW_PROFILE")
        if profile and "METAFLOW_PROFILE" in env["import_error"]:
            home = environ().get("METAFLOW_HOME", "~/.metaflowconfig")
            command = Path(python).with_name("metaflow")
            fix = (f"unset METAFLOW_PROFILE, or create {home}/config_{profile}.json "
                   f"(`{command} configure aws --profile {profile}` writes one)")
        else:
            fix = f"fix what Metaflow says; `{python} -c 'import metaflow'` shows it in full"
        return [Check("metaflow", FAIL, f"`import metaflow` fails: {env['import_error']}", fix)]
    info = env.get("metaflow")
    if info is None:
        return [Check("metaflow", FAIL, f"{python} has no Metaflow", metaflow_fix(python))]
    provided = ", ".join(dists) or "no installed distribution (a folder on the path)"
    extensions = env.get("extensions") or {}
    loaded = ", ".join(f"{n} {v}".strip() for n, v in sorted(extensions.items())) or "none"
    text = f"{info['version']} from {provided}; extensions: {loaded}"
    checks = []
    if not info["supported"]:
        checks.append(Check("metaflow", FAIL, f"{text} — flowmcp works with {supported_pin()[len('metaflow'):]}",
                            metaflow_fix(python)))
    elif len(dists) > 1:
        checks.append(Check("metaflow", WARN, text, "several distributions install the `metaflow` package and "
                            "overwrite each other's files: uninstall all but one, then reinstall it"))
    else:
        checks.append(Check("metaflow", OK, text))
    lacking = {feature: names for feature, names in (env.get("missing") or {}).items() if names}
    if lacking:
        said = "; ".join(f"{feature} needs {', '.join(names)}" for feature, names in sorted(lacking.items()))
        checks.append(Check("metaflow internals", WARN, f"this Metaflow lacks what flowmcp uses: {said}",
                            "answers say what flowmcp does without them; a supported Metaflow release has them all"))
    return checks


def _user(env: p.EnvironmentRecord) -> Check:
    user = env.get("user") or {}
    name, source = user.get("name"), user.get("source")
    if not name:
        return Check("user", FAIL, "Metaflow finds no user name (it refuses `root`)",
                     "set USER (or METAFLOW_USER) to your name in the environment that starts flowmcp")
    if source == "METAFLOW_USER" and name == DEFAULT_USER and not environ().get("METAFLOW_USER"):
        return Check("user", WARN, f"{name!r}, flowmcp's stand-in: the environment names no user (or only root)",
                     "set USER (or METAFLOW_USER) where flowmcp starts, so runs are recorded under your name")
    return Check("user", OK, f"{name} (from ${source})")


def _stores(env: p.EnvironmentRecord) -> list[Check]:
    profile = env.get("profile") or {}
    if profile.get("name"):
        where = f"profile {profile['name']!r} ({profile['file']})"
    else:
        where = f"the default profile ({profile.get('file')}{'' if profile.get('exists') else ', absent'})"
    checks = []
    store = env.get("datastore") or {}
    text = f"{store.get('type')} at {store.get('root') or '(no root set)'}, from {where}"
    if store.get("unchecked"):
        checks.append(Check("datastore", WARN, f"{text}; not tried: {store['unchecked']}",
                            "check it with Metaflow itself: `python flow.py run` of a small flow"))
    elif store.get("ok") is False:
        checks.append(Check("datastore", FAIL, f"{text}: {store.get('error')}", _store_fix(store)))
    elif store.get("ok"):
        checks.append(Check("datastore", OK, text + _took(store)))
    else:
        checks.append(Check("datastore", OK, text + " (not tried)"))
    meta = env.get("metadata") or {}
    if meta.get("type") == "service":
        text = f"service at {meta.get('url') or '(no URL set)'}, from {where}"
        if meta.get("ok") is False:
            checks.append(Check("metadata", FAIL, f"{text}: {meta.get('error')}",
                                "check METAFLOW_SERVICE_URL, the network and METAFLOW_SERVICE_AUTH_KEY; for work "
                                "on this machine alone: METAFLOW_DEFAULT_METADATA=local"))
        else:
            checks.append(Check("metadata", OK, text + (_took(meta) if meta.get("ok") else " (not tried)")))
    else:
        checks.append(Check("metadata", OK, f"{meta.get('type')}, from {where}"))
    return checks


def _took(record: dict[str, Any]) -> str:
    return f" (answered in {record['seconds']:g} s)" if "seconds" in record else ""


def _store_fix(store: dict[str, Any]) -> str:
    if store.get("type") == "local":
        return "make that folder writable, or point METAFLOW_DATASTORE_SYSROOT_LOCAL at one that is"
    if store.get("type") == "s3":
        return ("check METAFLOW_DATASTORE_SYSROOT_S3, METAFLOW_S3_ENDPOINT_URL and your AWS credentials "
                "(`aws s3 ls` of that root); for work on this machine alone: METAFLOW_DEFAULT_DATASTORE=local")
    return f"check the profile's METAFLOW_DATASTORE_SYSROOT_{str(store.get('type')).upper()} and its credentials"


async def _warm(app, usable: bool) -> Check:
    if not usable:
        reason, status = "the project's interpreter has no working, supported Metaflow", {}
    else:
        reason, status = await app.bridge.warm_check()
    if reason is None:
        return Check("warm workers", OK, f"spins fork from a worker with {status.get('modules', '?')} modules "
                     f"imported (Linux fork); {spares_detail(status)}")
    fix = "start flowmcp without --no-warm" if "--no-warm" in reason else None
    return Check("warm workers", WARN, f"off: {reason}; every spin starts a new interpreter (slower, same answers)",
                 fix)


def spares_detail(status: dict) -> str:
    """What the worker's spares do on this machine (see bridge/project/worker/spare.py)."""
    if not status.get("spares", True):
        return "spares off (FLOWMCP_SPARES=0): every job pays its fork"
    if not status.get("copy_ahead", True):
        return ("spares are forked ahead, but this kernel cannot copy their pages ahead (MADV_POPULATE_WRITE: "
                "Linux 5.14+), so each spin copies them as it runs")
    return "a spare job child and step process wait with their pages copied ahead"


async def _browser(config) -> Check:
    """view_card's browser: found, and answering `--version` (it is optional: nothing else needs it)."""
    import anyio

    from . import browser, browser_process

    try:
        found = browser.find_browser(config.browser, environ())
    except browser.BrowserMissing as ex:
        return Check("browser", WARN, f"view_card cannot render cards: {ex}",
                     f"{browser.install_hint()}, or pass --browser PATH; everything else works without one")
    try:
        with anyio.fail_after(10):
            done = await anyio.run_process([found, "--version"], check=False)
        version = done.stdout.decode(errors="replace").strip() or f"exit status {done.returncode}"
    except (OSError, TimeoutError) as ex:
        return Check("browser", WARN, f"{found} does not answer `--version` ({type(ex).__name__})",
                     "pass --browser PATH of a working Chromium or Chrome")
    run_as = browser_process.runner(found)
    return Check("browser", OK, f"{found} ({version}) for view_card, {run_as.describe}, at most "
                 f"{browser_process.MAX_MEMORY_MB} MB")


def _spins(config) -> Check:
    # Where the project's spins go, as Metaflow's spin datastore and the pruner find it (layout.spin_root)
    sysroot = environ().get("METAFLOW_DATASTORE_SYSROOT_SPIN")
    folder = Path(os.path.dirname(sysroot.rstrip("/")) if sysroot else config.root) / layout.SPIN_DIR
    size, spins = _du(folder)
    kept = f"the newest {config.keep_spins} spins of each flow are kept (--keep-spins), persisted ones at least an hour"
    text = f"{_mb(size)} in {folder} ({spins} spins); {kept}"
    limit = _limit_mb()
    if size > limit * 1024 * 1024:
        return Check("spin folder", WARN, text, f"spins are throw-away: `rm -rf {folder}` frees it (runs live in "
                     ".metaflow), or start flowmcp with a lower --keep-spins")
    return Check("spin folder", OK, text)


def _limit_mb() -> float:
    try:
        return float(environ().get("FLOWMCP_SPIN_WARN_MB") or SPIN_FOLDER_WARN_MB)
    except ValueError:
        return SPIN_FOLDER_WARN_MB


def _du(folder: Path) -> tuple[int, int]:
    """Bytes on disk under `folder` (hard links once), and the number of spin runs in it."""
    total, spins, seen = 0, 0, set()
    for dirpath, dirnames, filenames in os.walk(folder):
        depth = len(Path(dirpath).relative_to(folder).parts)
        if depth == 1:
            spins += sum(name.isdigit() for name in dirnames)
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total, spins


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:,.0f} KB"


def client_configs(root: Path) -> list[Check]:
    """Each client config in the project that starts flowmcp: does it point at this root, with
    commands that exist?"""
    from ..state.clients import registered_servers

    found = registered_servers(root)
    if not found:
        return [Check("clients", WARN, "no client config in this project starts flowmcp",
                      f"`flowmcp init --root {root}` registers it with Claude Code, Cursor, VS Code and Codex")]
    checks = []
    for entry in found:
        name = f"client {entry.file}"
        if entry.error:
            checks.append(Check(name, FAIL, entry.error, "fix the file, then `flowmcp init` updates our entry"))
            continue
        problems = []
        command = entry.command
        if command and not (Path(command).is_file() if os.sep in command else shutil.which(command)):
            problems.append(f"its command {command} does not exist")
        if entry.python and not Path(entry.python).is_file():
            problems.append(f"its --python {entry.python} does not exist")
        named_root = Path(entry.root).expanduser().resolve() if entry.root else None
        if named_root is not None and named_root != root:
            problems.append(f"it serves {named_root}, not this project")
        if problems:
            checks.append(Check(name, FAIL, f"server {entry.server!r}: " + "; ".join(problems),
                                f"`flowmcp init --root {root}` rewrites flowmcp's entry for this project"))
        else:
            serves = "this root" if named_root else "the folder the client starts it in"
            checks.append(Check(name, OK, f"server {entry.server!r} serves {serves} with {command}"))
    return checks


def check(root: str | None, python: str | None, *, keep_spins: int = DEFAULT_KEEP_SPINS, warm: bool = True,
          browser: str | None = None, warm_check: bool = True) -> Report:
    """The report for these server options, from outside any event loop."""
    import anyio

    from . import App

    try:
        app = App.create(root, python, keep_spins=keep_spins, warm=warm, browser=browser)
    except ValueError as ex:
        return failed_to_start(root, str(ex))

    async def checked() -> Report:
        try:
            return await diagnose(app, warm=warm_check)
        finally:
            await app.bridge.aclose()

    return anyio.run(checked)


def run_doctor(root: str | None, python: str | None, *, keep_spins: int, warm: bool, browser: str | None = None,
               as_json: bool = False, out=None) -> int:
    """`flowmcp doctor`: print the report; 0 when everything needed works, 1 otherwise."""
    import json
    import sys

    from ..redaction import redact, redact_data

    report = check(root, python, keep_spins=keep_spins, warm=warm, browser=browser)
    # as the doctor tool's answer is: a setting's secret (a URL's password, a header) is not printed
    text = json.dumps(redact_data(report.record()), indent=2) if as_json else redact(report.text())
    print(text, file=out or sys.stdout)
    return 0 if report.ok else 1
