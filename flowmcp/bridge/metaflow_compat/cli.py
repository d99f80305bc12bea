"""The flow's CLI run in-process: imported inside the flow's context, its errors heard (checked: 2.19.39)."""

import importlib.abc
import importlib.machinery
import sys

from .features import missing

FLOW_OPTION_COMMANDS = ("run_cmds", "init_cmd")  # checked: 2.19.39


def forget_cli():
    """Make the next `FlowSpec()` import Metaflow's CLI afresh, inside the flow's context.

    `metaflow/cli.py` builds its `start` command's `--config`/`--config-value` options (and the
    options of flow decorators such as @project) at import time, from the flow class that
    `FlowSpec.__init__` has just put in `parameters.current_flow` before it imports the CLI. A CLI
    imported earlier (the warm worker preloads it; the driver used to patch it) has no options for
    the flow's Configs, and every flow with a `Config` then fails ("Config expression 'config.x'
    could not be evaluated"). Re-executing only `metaflow.cli` (and the two command modules below)
    costs about a millisecond: their own imports stay loaded. Checked: 2.19.39 (`FlowSpec.__init__`,
    `config_options_with_config_input`, `add_decorator_options`, `add_custom_parameters`)."""
    metaflow = sys.modules.get("metaflow")
    sys.modules.pop("metaflow.cli", None)
    if metaflow is not None:
        # `from . import cli` reads the package attribute before it looks at sys.modules.
        metaflow.__dict__.pop("cli", None)
    # The commands that add the flow's Parameters as options when their module is executed
    # (`@add_custom_parameters` on `run` and `init`; the CLI loads them lazily by name). One the
    # worker learned and preloaded has no options for this flow's Parameters ("no such option").
    components = sys.modules.get("metaflow.cli_components")
    for name in FLOW_OPTION_COMMANDS:
        sys.modules.pop("metaflow.cli_components." + name, None)
        if components is not None:
            components.__dict__.pop(name, None)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `callback(module)` once, right after `name` is next executed, then steps aside."""

    def __init__(self, name, callback):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        finder = self

        def exec_then_call(module):
            exec_module(module)
            if finder in sys.meta_path:
                sys.meta_path.remove(finder)
            finder.callback(module)

        spec.loader.exec_module = exec_then_call
        return spec

    def remove(self):
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def after_import(name, callback):
    """Run `callback(module)` right after `name` is next imported; returns a handle whose
    `remove()` withdraws the request if it never was. (A finder stays installed until the module
    really executes: `importlib.util.find_spec` asks too without importing anything.)"""
    hook = _AfterImport(name, callback)
    sys.meta_path.insert(0, hook)
    return hook


def when_cli_imported(callback):
    """Run `callback(metaflow.cli)` when the flow imports its CLI (after `forget_cli`)."""
    return after_import("metaflow.cli", callback)


def catch_cli_errors(cli, on_metaflow_exception, on_unknown_exception):
    """Let the CLI report its top-level errors to us as objects as well as printing them.

    `metaflow.cli.main` catches every exception of a command and hands it to these two module
    functions before `sys.exit(1)`. Checked: 2.19.39 (`print_metaflow_exception`,
    `print_unknown_exception`)."""
    if missing("flow_cli"):
        return
    print_metaflow, print_unknown = cli.print_metaflow_exception, cli.print_unknown_exception

    def metaflow_exception(ex):
        on_metaflow_exception(ex)
        print_metaflow(ex)

    def unknown_exception(ex):
        on_unknown_exception(ex)
        print_unknown(ex)

    cli.print_metaflow_exception = metaflow_exception
    cli.print_unknown_exception = unknown_exception


def catch_usage_errors(on_usage_error):
    """Hear click's usage errors (a Config file that does not parse, an unknown option): click
    prints them and exits 2 itself, so `metaflow.cli.main` never sees them. Returns a function
    that undoes this. Checked: 2.19.39 (click vendored as `metaflow._vendor.click`)."""
    from metaflow._vendor.click.exceptions import ClickException, UsageError

    originals = {cls: cls.__dict__["show"] for cls in (ClickException, UsageError) if "show" in cls.__dict__}

    def patched(show):
        def show_and_tell(self, file=None):
            try:
                on_usage_error(self)
            finally:
                show(self, file)

        return show_and_tell

    for cls, show in originals.items():
        cls.show = patched(show)

    def undo():
        for cls, show in originals.items():
            cls.show = show

    return undo


def record_cli_state(cli, command, sink):
    """Replace what the CLI's `command` (a command of `metaflow.cli`'s own group, e.g. `show`)
    does with keeping the CLI's state object in `sink["obj"]`: the flow instance after Configs and
    mutators were processed (`obj.flow`) and its graph (`obj.graph`). Checked: 2.19.39 (`start`
    sets `ctx.obj.flow` / `ctx.obj.graph` before any subcommand; `show` takes no options)."""
    if missing("flow_cli"):
        return
    from metaflow._vendor import click

    def record():
        sink["obj"] = click.get_current_context().obj

    getattr(cli, command).callback = record


def replace_runtime_subprocess(stand_in):
    """Make Metaflow's runtime start step processes through `stand_in` (a `subprocess` look-alike
    whose Popen forks instead). Checked: 2.19.39 (`metaflow.runtime` calls `subprocess.Popen`
    through its module attribute). Only called when the warm feature is on."""
    import metaflow.runtime

    metaflow.runtime.subprocess = stand_in


def defer_code_package():
    """Build the code package when something asks for it, not on every run and spin.

    `run`, `resume` and `spin` make a MetaflowPackage: its constructor lists every loaded
    module's files (~15 ms with pandas loaded), then starts a thread that tars the flow's folder
    and those modules. A local run never reads it; the compute layers and the schedulers read it
    through its attributes (`blob`, `package_sha()`, `package_url()`, which join that thread).
    Here, with the local environment, the constructor runs at the first attribute read instead,
    and the thread starts at the first join: what a reader gets is the same, and a local spin
    spends none of its time packaging. (Another environment — @conda, @pypi — prepares itself
    in the constructor: that one stays as it is.) Checked: 2.19.0–2.19.39 (`MetaflowPackage.__init__`
    calls `environment.init_environment`, `system_context._update(package=self)` since 2.19.23, starts
    `self._create_thread`; every reader joins it; `run_cmds` imports the class by name)."""
    import metaflow.package as package

    if getattr(package.MetaflowPackage, "_flowmcp_deferred", False):
        return
    package.threading = _DeferredThreading(package.threading)
    package.MetaflowPackage = _package_built_when_read(package.MetaflowPackage)


def _package_built_when_read(original):
    class MetaflowPackage(original):
        _flowmcp_deferred = True

        def __init__(self, flow, environment, *args, **kwargs):
            if getattr(environment, "TYPE", None) != "local":
                original.__init__(self, flow, environment, *args, **kwargs)
                return
            object.__setattr__(self, "_flowmcp_pending", (flow, environment, args, kwargs))
            try:  # 2.19.23 added it; before, the constructor told no one
                from metaflow.system_context import system_context
            except ImportError:
                return
            system_context._update(package=self)  # as the constructor would, for the hooks

        def __getattr__(self, name):
            # Only attributes the instance lacks come here: it was not built yet
            pending = self.__dict__.pop("_flowmcp_pending", None)
            if pending is None:
                raise AttributeError(name)
            flow, environment, args, kwargs = pending
            original.__init__(self, flow, environment, *args, **kwargs)
            return getattr(self, name)

    MetaflowPackage.__name__ = MetaflowPackage.__qualname__ = original.__name__
    MetaflowPackage.__module__ = original.__module__
    return MetaflowPackage


class _DeferredThreading:
    """`threading`, as `metaflow.package` sees it: its threads start when first joined."""

    def __init__(self, threading):
        self._threading = threading

    def __getattr__(self, name):
        return getattr(self._threading, name)

    def Thread(self, *args, **kwargs):  # threading's name
        return _StartedWhenJoined(self._threading.Thread(*args, **kwargs))


class _StartedWhenJoined:
    def __init__(self, thread):
        self._thread = thread
        self._started = False

    def __getattr__(self, name):
        return getattr(self._thread, name)

    def start(self):
        pass  # deferred: see defer_code_package

    def join(self, timeout=None):
        if not self._started:
            self._started = True
            self._thread.start()
        return self._thread.join(timeout)


def remember_version():
    """Work out Metaflow's version in the warm worker, once, for all its forks.

    Metaflow works out its own version (and its extensions') once per process, with `git
    describe` on its install folders: two subprocesses, about 6 ms of every warm spin. The answer
    depends only on the installed files, and a worker is replaced when those change, so its forks
    may share it. Checked: 2.19.0–2.19.39 (`metaflow_version.get_version`, kept in
    `_version_cache`; the full form also records the extensions' versions, once per process)."""
    try:
        from metaflow import metaflow_version

        metaflow_version.get_version()
        metaflow_version.get_version(public=True)
    except Exception:
        pass  # each job works it out, as before


def repository_info():
    """What Metaflow found of the flow's git repository in this process, or None before it
    looked. A spin's runtime looks as it registers the spin, before it starts the step process,
    which would look again: `git` run once outside a repository, five times inside one (10 ms
    or more from a large process). Checked: 2.19.0-2.19.39 (`metaflow_git.get_repository_info`
    keeps its answer in `_git_info_cache` for the process's life)."""
    module = sys.modules.get("metaflow.metaflow_git")
    info = getattr(module, "_git_info_cache", None)
    return dict(info) if isinstance(info, dict) else None


def assume_repository_info(info):
    """Give this step process the answer its runtime found a moment ago, as if it had asked git
    itself (same repository, same folder: `python flow.py` in both)."""
    module = sys.modules.get("metaflow.metaflow_git")
    if isinstance(info, dict) and module is not None and getattr(module, "_git_info_cache", 0) is None:
        module._git_info_cache = dict(info)
