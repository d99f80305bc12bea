"""flowmcp's capture hook for Metaflow step processes (active only in processes flowmcp starts).

The server puts this folder first on PYTHONPATH for the flows it starts, so every step process
Metaflow spawns loads it. When `metaflow.task` is imported, it wraps the function that runs the
user's step so that, in the step's own process, we record the live exception (frames, locals,
chain) and a summary of the artifacts the step set — facts no printed log carries. Then it
hands over to any other sitecustomize on the path, so the user's own keeps working.

Where to write, and whether to summarize artifacts, is read from the environment at each step:
a warm worker installs the hook once and forks step processes for many jobs.
"""

import os
import sys


def _chain_to_next_sitecustomize():
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _install():
    if not (os.environ.get("FLOWMCP_CAPTURE_DIR") or os.environ.get("FLOWMCP_WARM")):
        return
    import importlib.abc
    import importlib.machinery

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != "metaflow.task":
                return None
            # Stay installed until the module really executes: `importlib.util.find_spec` asks
            # too (the warm worker does) without importing anything.
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module
            finder = self

            def exec_and_wrap(module):
                exec_module(module)
                if finder in sys.meta_path:
                    sys.meta_path.remove(finder)
                try:
                    _wrap_task(module)
                except Exception:
                    pass  # never break the user's step because our hook could not install

            spec.loader.exec_module = exec_and_wrap
            return spec

    sys.meta_path.insert(0, _Finder())


def _load(name, relpath):
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(name, os.path.join(package_dir, relpath))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _compat():
    return _load("_flowmcp_compat", os.path.join("bridge", "metaflow_compat.py"))


MAX_CHANGED = 40  # artifacts summarized per step
MAX_HASHED_BYTES = 100 * 1024 * 1024  # an input larger than this is not re-serialized to spot in-place changes


def _wrap_task(task_module):
    import json

    compat = _compat()
    original = task_module.MetaflowTask._exec_step_function
    pending = {}  # this process's step: its record, until the task's artifacts are saved

    def exec_step_function(self, step_function, orig_step_func, input_obj=None):
        args = (step_function, orig_step_func) + (() if input_obj is None else (input_obj,))
        capture_dir = os.environ.get("FLOWMCP_CAPTURE_DIR")
        if not capture_dir:  # a step process flowmcp did not start
            return original(self, *args)
        flow = self.flow
        record = {"step": getattr(orig_step_func, "name", None)}
        pending.update(record=record, dir=capture_dir, join=input_obj is not None,
                       inputs=[(compat.content_keys(ds), compat.spin_overrides(ds), ds)
                               for ds in compat.input_datastores(flow, input_obj)])
        try:
            return original(self, *args)
        except BaseException as ex:
            try:
                capture = _load("_flowmcp_capture", os.path.join("bridge", "capture.py"))
                record["exception"] = capture.exception_record(ex)
                record["available"] = _artifact_names(flow)
                record["split"] = _split(flow, capture)
            except Exception as hook_error:
                record["hook_error"] = repr(hook_error)
            _hide_this_frame(ex)
            raise
        finally:
            try:  # written now, and again with the artifacts once they are saved
                _write(capture_dir, record, json)
            except Exception:
                pass

    def after_persist(output, flow, values, error):
        record = pending.pop("record", None)
        if record is None:
            return
        try:
            if error is not None:
                capture = _load("_flowmcp_capture", os.path.join("bridge", "capture.py"))
                record["persist_error"] = capture.exception_record(error)
            elif os.environ.get("FLOWMCP_CAPTURE_ARTIFACTS") == "1" and "exception" not in record:
                record["artifacts"], unchecked = _changed_artifacts(compat, output, values, pending,
                                                                    compat.parameter_names(flow))
                if unchecked:
                    record["unchecked"] = unchecked
        except Exception as hook_error:
            record["hook_error"] = repr(hook_error)
        try:
            _write(pending["dir"], record, json)
        except Exception:
            pass

    task_module.MetaflowTask._exec_step_function = exec_step_function
    compat.install_persist_hook(after_persist)
    compat.install_spin_passdown_guard()  # acts only on datastores of a spin


def _hide_this_frame(ex):
    """Leave the wrapper's own frame out of the traceback Metaflow prints and stores (`@catch`
    keeps it in the task's log): the user should see their step, then Metaflow, never flowmcp.
    Python 3.11+ re-raises with the traceback as set here; older ones put the frame back."""
    tb = ex.__traceback__
    if tb is not None and tb.tb_frame is sys._getframe(1):
        ex.__traceback__ = tb.tb_next


def _parent_names(flow):
    """Artifact names of the step's input, without loading any of them.

    (A spin datastore's `in` loads the value to answer, so read the index directly.)"""
    ds = getattr(flow, "_datastore", None)
    names = set()
    for index in ("_objects", "spin_artifacts"):
        try:
            names.update(getattr(ds, index, None) or {})
        except Exception:
            pass
    return names


def _artifact_names(flow):
    names = set(vars(flow)) | _parent_names(flow)
    return sorted(n for n in names if not n.startswith("_") and n != "name")


def _split(flow, capture):
    try:
        index = flow.index
    except Exception:
        return None
    if index is None:
        return None
    try:
        value = capture._summarize(flow.input)
    except Exception as ex:
        value = "<unavailable: %s>" % type(ex).__name__
    return {"index": index, "input": value}


_MISSING = object()


def _public(name, value=None):
    return not name.startswith("_") and name != "name" and not callable(value)


def _changed_artifacts(compat, output, values, pending, parameters):
    """Every artifact the task holds that its inputs did not hold with the same value — set,
    changed in place, merged (`merge_artifacts`) or taken from `inputs` — by content key.

    The keys are Metaflow's own where it saved the task (a run, a persisted spin); otherwise
    (a spin without persist) each input the step read is serialized as Metaflow would, to see
    whether it changed. Returns (summaries, names of large inputs that were not checked)."""
    summarize = _load("_flowmcp_artifacts", os.path.join("summarize", "artifacts.py"))
    inputs = pending.get("inputs") or []
    join = pending.get("join")
    saved = compat.saved_keys(output)
    held = compat.content_keys(output)  # what the task holds, saved or handed down by key
    names = [n for n, v in values.items() if _public(n, v) and n not in parameters]
    names += [n for n in held if _public(n) and n not in values and n not in parameters and (join or saved is not None)]
    out, unchecked = {}, []
    for name in names:
        value = values.get(name, _MISSING)
        holders = [keys for keys, _, _ in inputs if name in keys]
        overrides = [over for _, over, _ in inputs if name in over]
        if not holders and not overrides:
            change = "created"
        else:
            key = (saved or {}).get(name)
            if key is None and value is _MISSING:
                key = held.get(name)
            if key is None:
                size = max([compat.stored_size(ds, name) or 0 for _, _, ds in inputs] + [0])
                if size > MAX_HASHED_BYTES:
                    unchecked.append(name)
                    continue
                key = compat.content_key(output, value)
            before = [keys[name] for keys in holders] + [compat.content_key(output, o[name]) for o in overrides]
            if key in before:
                if not join:
                    continue  # the input, as it was
                change = "from inputs"
            else:
                change = "changed" if not join else "created"
        if value is _MISSING:
            try:
                value = output[name]
            except Exception as ex:
                value = _Unloaded(type(ex).__name__)
        entry = summarize.summarize(value, max_chars=600)
        entry["change"] = change
        out[name] = entry
        if len(out) >= MAX_CHANGED:
            break
    return out, unchecked


class _Unloaded:
    """Stands in for an artifact that could not be read back to summarize it."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return "<not readable: %s>" % self.why


def _write(capture_dir, record, json):
    from metaflow import current

    name = "%s.%s.%s.json" % (current.run_id, current.step_name, current.task_id)
    record["run_id"] = current.run_id
    record["task_id"] = int(current.task_id) if str(current.task_id).isdigit() else 0
    os.makedirs(capture_dir, exist_ok=True)
    path = os.path.join(capture_dir, name)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, default=str)
    os.replace(path + ".tmp", path)


_install()
_chain_to_next_sitecustomize()
