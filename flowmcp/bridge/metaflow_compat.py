"""The one place that knows Metaflow's private names, patches and on-disk layouts.

Runs inside the project's interpreter (the driver, the warm worker, step processes), so it is
standard library only and imports Metaflow lazily. Every entry says what it relies on and the
Metaflow versions it was checked against; everything else in the bridge asks here.

Checked against: metaflow 2.19.39.

What flowmcp needs of Metaflow's internals is checked at start (`missing`, per feature). Where
something is missing, the feature that needs it is off, the plain path takes over (printed
tracebacks, a new interpreter, Metaflow's own spin), and answers say so once. The environment
variable FLOWMCP_HIDE_METAFLOW (`module:Attr.path,...`) makes named internals count as missing,
so the degraded paths can be exercised on a Metaflow that has them (tests, `flowmcp doctor`).
"""

import importlib
import importlib.abc
import importlib.machinery
import os
import sys

# ---------------------------------------------------------------------------- features
# feature -> (the internals it needs as (module, attribute path), what happens without them)
FEATURES = {
    "capture": (
        [("metaflow.task", "MetaflowTask._exec_step_function"),
         ("metaflow.datastore.task_datastore", "TaskDataStore.persist")],
        "step failures are read from printed tracebacks, and answers do not list the artifacts a step set",
    ),
    "spin_guard": (
        [("metaflow.datastore.task_datastore", "TaskDataStore.passdown_partial"),
         ("metaflow.datastore.task_datastore", "TaskDataStore.transfer_artifacts")],
        "a join spun right after a run may fail as it does under Metaflow's own spin",
    ),
    "warm": (
        [("metaflow.runtime", "subprocess"), ("metaflow.runtime", "SpinRuntime")],
        "every spin starts a new interpreter",
    ),
    "flow_cli": (
        [("metaflow.cli", "print_metaflow_exception"), ("metaflow.cli", "print_unknown_exception"),
         ("metaflow.cli", "show"), ("metaflow.parameters", "flow_context")],
        "Metaflow's own errors are read from what it printed, and flows are described from their classes",
    ),
}


def _hidden():
    return {item.strip() for item in os.environ.get("FLOWMCP_HIDE_METAFLOW", "").split(",") if item.strip()}


def _exists(module_name, path):
    if "%s:%s" % (module_name, path) in _hidden():
        return False
    try:
        value = importlib.import_module(module_name)
        for part in path.split("."):
            value = getattr(value, part)
    except Exception:
        return False
    return True


_missing_cache = {}


def missing(feature):
    """The internals `feature` needs that this Metaflow lacks ([] when it is on)."""
    if feature not in _missing_cache:
        needs, _ = FEATURES[feature]
        _missing_cache[feature] = ["%s.%s" % (m, a) for m, a in needs if not _exists(m, a)]
    return _missing_cache[feature]


def degraded(check_all=True):
    """{feature: one line for the answer} for every feature that is off with this Metaflow.
    With `check_all` false, only features whose modules this process has loaded are checked: a
    read of runs must not pay for importing the runtime."""
    out = {}
    for feature, (needs, consequence) in FEATURES.items():
        if not check_all and not all(module in sys.modules for module, _ in needs):
            continue
        lacking = missing(feature)
        if lacking:
            out[feature] = "flowmcp: this Metaflow lacks %s, so %s." % (", ".join(lacking), consequence)
    return out

# ---------------------------------------------------------------------------- on-disk layouts
# Where Metaflow keeps things, as a local project sees them (checked: 2.19.39).

LOCAL_DIR = ".metaflow"  # runs: <root>/.metaflow/<Flow>/<run>/<step>/<task>/, blobs in <Flow>/data/
SPIN_DIR = ".metaflow_spin"  # spins: the same layout, one run per spin, found by walking up like .metaflow
# Spin cards: <spin root>/.metaflow_spin/mf.cards/<Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/
SPIN_CARDS = ("mf.cards",)
LATEST_RUN = "latest_run"  # <root>/.metaflow/<Flow>/latest_run: the id a bare `spin step` or `resume` takes


def is_run_id(name):
    """A spin or local run id folder: ASCII digits (`'²'.isdigit()` is true, and int('²') raises)."""
    return name.isascii() and name.isdigit()


def spin_root():
    """The folder holding `.metaflow_spin` for this process: METAFLOW_DATASTORE_SYSROOT_SPIN's
    parent when set, else the working directory (the project root for every job flowmcp starts)."""
    root = os.environ.get("METAFLOW_DATASTORE_SYSROOT_SPIN")
    if root:
        return os.path.dirname(root.rstrip("/"))
    return os.getcwd()


def spin_run_ids(flow_name, root=None):
    folder = os.path.join(root or spin_root(), SPIN_DIR, flow_name)
    try:
        return [n for n in os.listdir(folder) if is_run_id(n) and os.path.isdir(os.path.join(folder, n))]
    except OSError:
        return []


def spin_steps(flow_name, run_id, root=None):
    """The step(s) a spin ran (a spin run holds one)."""
    folder = os.path.join(root or spin_root(), SPIN_DIR, flow_name, run_id)
    try:
        return sorted(n for n in os.listdir(folder) if not n.startswith((".", "_")))
    except OSError:
        return []


def is_spin_run(flow_name, run_id, root):
    return os.path.isdir(os.path.join(root, SPIN_DIR, flow_name, str(run_id)))


def spin_card_files(task_pathspec, root=None):
    """[((card type, hash), path)] of the cards a spun task rendered, in name order."""
    flow, run_id, step, task_id = task_pathspec.split("/")
    folder = os.path.join(root or spin_root(), SPIN_DIR, *SPIN_CARDS, flow, "runs", run_id, "steps", step,
                          "tasks", task_id, "cards")
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".html"))
    except OSError:
        return []
    return [((n.split("-")[0], n.rsplit("-", 1)[-1][:-5]), os.path.join(folder, n)) for n in names]


def local_datastore_root():
    """The `.metaflow` folder Metaflow itself would use from here (it searches parent folders)."""
    from metaflow.plugins.datastores.local_storage import LocalStorage

    return LocalStorage.get_datastore_root_from_config(None, create_on_absent=False)


def local_run_ids(flow_name):
    """Run ids of a flow in the local datastore, from its folder names (cheap: no metadata read)."""
    datastore = local_datastore_root()
    if datastore is None:
        return []
    folder = os.path.join(datastore, flow_name)
    try:
        names = [n for n in os.listdir(folder) if n[:1].isalnum() and n != "data"]
    except OSError:
        return []
    return [n for n in names if os.path.isdir(os.path.join(folder, n))]


def has_local_runs(flow_name, root):
    return os.path.isdir(os.path.join(root, LOCAL_DIR, flow_name))


def config_files(root):
    """The files Metaflow reads its configuration from when imported (`metaflow_config_funcs`):
    `$METAFLOW_HOME/config[_PROFILE].json` and the project's `.metaflow/config.json`."""
    home = os.environ.get("METAFLOW_HOME", "~/.metaflowconfig")
    profile = os.environ.get("METAFLOW_PROFILE")
    name = "config_%s.json" % profile if profile else "config.json"
    return [os.path.expanduser(os.path.join(home, name)), os.path.join(root, LOCAL_DIR, "config.json")]


def latest_run_file(flow_name):
    datastore = local_datastore_root()
    return os.path.join(datastore, flow_name, LATEST_RUN) if datastore else None


# ---------------------------------------------------------------------------- the Client


def any_namespace():
    """Read any run in this root, whoever started it (the Client defaults to the user's own)."""
    import metaflow

    metaflow.namespace(None)


def run(pathspec):
    from metaflow import Run

    return Run(pathspec, _namespace_check=False)


def step(pathspec):
    from metaflow import Step

    return Step(pathspec, _namespace_check=False)


def task(pathspec):
    from metaflow import Task

    return Task(pathspec, _namespace_check=False)


def spin_task(pathspec):
    """A spun task, read with the spin metadata provider for this root without touching the
    process-global `inspect_spin` state (what Metaflow's Runner does). Checked: 2.19.39
    (`MetaflowObject(_current_metadata=...)`)."""
    from metaflow import Task

    return Task(pathspec, _namespace_check=False, _current_metadata="spin@" + spin_root())


# ---------------------------------------------------------------------------- parameters


def flow_parameters(cls):
    """A flow class's Parameters and Configs. Checked: 2.19.39 (`FlowSpec._get_parameters`
    yields (attribute name, parameter))."""
    return [param for _, param in cls._get_parameters()]


def parameter_settings(param):
    """A Parameter's settings: explicit arguments win over **kwargs, as `Parameter.init` does.
    Checked: 2.19.39 (`Parameter.kwargs`, `Parameter._override_kwargs`)."""
    kwargs = {k: v for k, v in (getattr(param, "kwargs", None) or {}).items() if v is not None}
    kwargs.update({k: v for k, v in (getattr(param, "_override_kwargs", None) or {}).items() if v is not None})
    return kwargs

# --------------------------------------------------------------------------- the flow's CLI


def forget_cli():
    """Make the next `FlowSpec()` import Metaflow's CLI afresh, inside the flow's context.

    `metaflow/cli.py` builds its `start` command's `--config`/`--config-value` options (and the
    options of flow decorators such as @project) at import time, from the flow class that
    `FlowSpec.__init__` has just put in `parameters.current_flow` before it imports the CLI. A CLI
    imported earlier (the warm worker preloads it; the driver used to patch it) has no options for
    the flow's Configs, and every flow with a `Config` then fails ("Config expression 'config.x'
    could not be evaluated"). Re-executing only `metaflow.cli` costs about half a millisecond: its
    own imports stay loaded. Checked: 2.19.39 (`FlowSpec.__init__`, `config_options_with_config_input`,
    `add_decorator_options`)."""
    metaflow = sys.modules.get("metaflow")
    sys.modules.pop("metaflow.cli", None)
    if metaflow is not None:
        # `from . import cli` reads the package attribute before it looks at sys.modules.
        metaflow.__dict__.pop("cli", None)


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


# --------------------------------------------------------------------------- flow classes


def flow_class_of(value):
    """The FlowSpec class behind a module attribute: a bare `@SomeFlowMutator` leaves the
    mutator object in the class's place. Checked: 2.19.39 (`FlowMutator._flow_cls`)."""
    try:
        from metaflow import FlowMutator
    except ImportError:  # older 2.19 releases call it differently; nothing to unwrap then
        return value
    if isinstance(value, FlowMutator):
        return getattr(value, "_flow_cls", None) or value
    return value


def flow_decorator_names(cls):
    """Names of a flow's own decorators (@project, @conda_base, ...). `_flow_decorators` is a
    property of instances; the class keeps them in its flow state. Checked: 2.19.39."""
    try:
        from metaflow.flowspec import FlowStateItems

        return sorted(cls._flow_state[FlowStateItems.FLOW_DECORATORS])
    except Exception:
        return []


def step_decorator_names(node):
    """Names of a graph node's decorators: Metaflow's (`@retry`) and user step decorators and
    mutators (`node.wrappers`). Checked: 2.19.39."""
    names = [d.name for d in getattr(node, "decorators", [])]
    for wrapper in getattr(node, "wrappers", []) or []:
        name = getattr(wrapper, "decorator_name", None)
        if name:
            names.append(name)
    return names


# --------------------------------------------------------------------------- datastores (step process)


def wrap_step_function(task_module, wrap):
    """Replace the method that runs the user's step function with `wrap(original)`; False when
    the capture feature is off. Checked: 2.19.39
    (`MetaflowTask._exec_step_function(self, step_function, orig_step_func[, input_obj])`)."""
    if missing("capture"):
        return False
    task_class = task_module.MetaflowTask
    task_class._exec_step_function = wrap(task_class._exec_step_function)
    return True


def input_artifact_names(flow):
    """Artifact names of a step's input, without loading any of them (a spin datastore's `in`
    loads the value to answer, so read the indexes). Checked: 2.19.39 (`FlowSpec._datastore`,
    `TaskDataStore._objects`, `SpinTaskDatastore.spin_artifacts`)."""
    ds = getattr(flow, "_datastore", None)
    names = set()
    for index in ("_objects", "spin_artifacts"):
        try:
            names.update(getattr(ds, index, None) or {})
        except Exception:
            pass
    return names


def install_spin_passdown_guard():
    """Let a spun join (or any spun step) read artifacts passed down from its inputs.

    `merge_artifacts` and a join's Parameters are passed down by content key
    (`TaskDataStore.passdown_partial`): the key is copied, the blob is not. In a spin the inputs
    are `SpinTaskDatastore`s over the original run's datastore, while the step's own datastore is
    the spin datastore, so reading such an artifact looks for a blob that is not there and fails
    with `TypeError: expected str, bytes or os.PathLike object, not NoneType` in
    `content_addressed_store.load_blobs` (Metaflow's own `spin` too). Copying the missing blobs
    across when they are passed down, as Metaflow's persist does for a linear step's unchanged
    inputs (`transfer_artifacts`), makes them readable and persistable. Checked: 2.19.39."""
    if missing("spin_guard"):
        return
    from metaflow.datastore.task_datastore import TaskDataStore

    original = TaskDataStore.passdown_partial
    if getattr(original, "_flowmcp_guard", False):
        return

    def passdown_partial(self, origin, variables):
        original(self, origin, variables)
        source = getattr(origin, "orig_datastore", None)  # only a SpinTaskDatastore has one
        if source is None or not hasattr(self, "transfer_artifacts"):
            return
        names = [v for v in variables if v in getattr(source, "_objects", {})]
        if names:
            self.transfer_artifacts(source, names=names)

    passdown_partial._flowmcp_guard = True
    TaskDataStore.passdown_partial = passdown_partial


def install_persist_hook(callback):
    """Call `callback(output_datastore, flow, values, error)` after a task's artifacts are saved.

    `values` maps the flow's attributes to their objects as they were before saving: Metaflow's
    persist deletes them from the flow to free memory. `error` is the exception persist raised
    (an artifact that cannot be pickled), then re-raised. Checked: 2.19.39
    (`TaskDataStore.persist(flow)` is called once per task, after the step function)."""
    from metaflow.datastore.task_datastore import TaskDataStore

    original = TaskDataStore.persist

    def persist(self, flow):
        try:
            values = dict(vars(flow))
        except Exception:
            values = {}
        try:
            original(self, flow)
        except BaseException as ex:
            callback(self, flow, values, ex)
            tb = ex.__traceback__
            if tb is not None and tb.tb_frame is sys._getframe():  # not ours to show (see sitecustomize)
                ex.__traceback__ = tb.tb_next
            raise
        callback(self, flow, values, None)

    TaskDataStore.persist = persist


def content_keys(datastore):
    """{artifact name: content key} a datastore holds (or was handed down); {} if unknown."""
    try:
        return dict(getattr(datastore, "_objects", None) or {})
    except Exception:
        return {}


def stored_size(datastore, name):
    """Serialized size in bytes of an artifact a datastore holds, or None."""
    try:
        return int((datastore._info.get(name) or {}).get("size"))
    except Exception:
        return None


def saved_keys(datastore):
    """The content keys persist wrote, or None when this task stores nothing (a spin without
    --persist: `TaskDataStore._persist` is False and persist returns at once)."""
    if not getattr(datastore, "_persist", True):
        return None
    return content_keys(datastore)


def spin_overrides(datastore):
    """Input values a spin's artifacts module overrides ({} outside a spin)."""
    return dict(getattr(datastore, "spin_artifacts", None) or {})


def content_key(datastore, value):
    """The content key Metaflow would store `value` under: the first serializer that takes it
    (2.19.3x's pluggable serializers; pickle protocol 4 before them), then SHA-1 of the blob, as
    `ContentAddressedStore.save_blobs` computes it."""
    import hashlib

    serializers = getattr(datastore, "_serializers", None)
    if serializers is None:
        import pickle

        return hashlib.sha1(pickle.dumps(value, protocol=4)).hexdigest()
    from metaflow.datastore.artifacts.serializer import SerializationFormat

    for serializer in serializers:
        if serializer.can_serialize(value):
            blobs, _ = serializer.serialize(value, format=SerializationFormat.STORAGE)
            blob = blobs[0].value
            return hashlib.sha1(blob).hexdigest()
    return None


def parameter_names(flow):
    """Artifact names of a flow's Parameters and Configs: inputs every task holds, never set by a
    step. Checked: 2.19.39 (`FlowSpec._get_parameters` yields (attribute name, parameter))."""
    try:
        return {name for name, _ in flow._get_parameters()}
    except Exception:
        return set()


def flow_datastore(flow):
    """The datastore a task's flow object reads from: the input's for a linear step, the task's
    own for a join."""
    return getattr(flow, "_datastore", None)


def input_datastores(flow, input_obj):
    """The datastores a step's inputs came from: each input of a join, else the one input."""
    if input_obj is not None:
        found = []
        for inp in input_obj:
            ds = getattr(inp, "_datastore", None)
            if ds is not None:
                found.append(ds)
        return found
    ds = flow_datastore(flow)
    return [ds] if ds is not None else []
