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


def _wrap_task(task_module):
    import json

    original = task_module.MetaflowTask._exec_step_function
    loaded = {}

    from metaflow.flowspec import FlowSpec

    original_getattr = FlowSpec.__getattr__

    def recording_getattr(self, name):
        value = original_getattr(self, name)
        loaded[name] = id(value)  # a parent artifact read (and cached) by the step
        return value

    FlowSpec.__getattr__ = recording_getattr

    def exec_step_function(self, step_function, orig_step_func, input_obj=None):
        args = (step_function, orig_step_func) + (() if input_obj is None else (input_obj,))
        capture_dir = os.environ.get("FLOWMCP_CAPTURE_DIR")
        if not capture_dir:  # a step process flowmcp did not start
            return original(self, *args)
        with_artifacts = os.environ.get("FLOWMCP_CAPTURE_ARTIFACTS") == "1"
        flow = self.flow
        record = {"step": getattr(orig_step_func, "name", None)}
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
            raise
        finally:
            if with_artifacts and "exception" not in record:
                try:
                    record["artifacts"] = _changed_artifacts(flow, loaded)
                except Exception as hook_error:
                    record["hook_error"] = repr(hook_error)
            try:
                _write(capture_dir, record, json)
            except Exception:
                pass

    task_module.MetaflowTask._exec_step_function = exec_step_function


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


def _changed_artifacts(flow, loaded):
    """Artifacts the step created or reassigned, summarized; unchanged inputs are left out."""
    summarize = _load("_flowmcp_artifacts", os.path.join("summarize", "artifacts.py"))
    parent = _parent_names(flow)
    out = {}
    for name, value in list(vars(flow).items()):
        if name.startswith("_") or name == "name" or callable(value):
            continue
        if loaded.get(name) == id(value):
            continue  # read from the parent and not reassigned
        entry = summarize.summarize(value, max_chars=600)
        entry["change"] = "changed" if name in parent else "created"
        out[name] = entry
        if len(out) >= 40:
            break
    return out


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
