"""What flowmcp needs of Metaflow's internals, per feature, and whether this Metaflow has it."""

import importlib
import os
import sys

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
