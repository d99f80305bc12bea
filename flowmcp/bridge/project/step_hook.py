"""In a step process: record the live exception and what the task's artifacts became.

Installed by `bridge/hook/sitecustomize.py` when the step process imports `metaflow.task`. It
records, in the step's own process, the exception with its frames and locals (no printed log
carries them) and, once Metaflow has saved the task, every artifact the task holds that its
inputs did not hold with the same value. Where to write, and whether to summarize artifacts, is
read from the environment at each step: a warm worker installs this once and forks many steps.
"""

import json
import os
import sys

from ...summarize import artifacts as summaries
from ...summarize import splits
from .. import capture
from .. import metaflow_compat as compat
from . import step_facts

MAX_CHANGED = 40  # artifacts summarized per step
MAX_HASHED_BYTES = 100 * 1024 * 1024  # a larger input is not re-serialized to spot in-place changes
_MISSING = object()


def install(task_module):
    """Wrap the function that runs the user's step, and follow the task's artifacts to where
    they are saved (once per process: a warm worker installs it before it forks)."""
    pending = {}  # this process's step: its record, until the task's artifacts are saved

    def wrap(original):
        def exec_step_function(self, step_function, orig_step_func, input_obj=None):
            args = (step_function, orig_step_func) + (() if input_obj is None else (input_obj,))
            capture_dir = os.environ.get("FLOWMCP_CAPTURE_DIR")
            if not capture_dir:  # a step process flowmcp did not start
                return original(self, *args)
            flow = self.flow
            record = {"step": getattr(orig_step_func, "name", None), "attempt": compat.retry_count()}
            split = splits.from_frames(compat.foreach_frames(flow))
            if split:  # every answer names a foreach task by its split, failed or not
                record["split"] = split
            pending.update(record=record, dir=capture_dir, join=input_obj is not None,
                           inputs=[(compat.content_keys(ds), compat.spin_overrides(ds), ds)
                                   for ds in compat.input_datastores(flow, input_obj)])
            shown = WarningsShown()
            try:
                with shown:
                    return original(self, *args)
            except BaseException as ex:
                _record_exception(record, ex, flow, input_obj)
                _hide_this_frame(ex)
                raise
            finally:
                if shown.seen:
                    record["warnings"] = shown.records()
                _write(capture_dir, record)  # now, and again with the artifacts once they are saved

        return exec_step_function

    def after_persist(output, flow, values, error):
        record = pending.pop("record", None)
        if record is None:
            return
        try:
            if error is not None:
                record["persist_error"] = capture.exception_record(error)
                name = _unsaved_artifact(error)
                if name and name in values:
                    record["unsaved"] = {"name": name, "type": _qualified_type(values[name]),
                                         "summary": summaries.one_line(values[name], 120)}
            elif os.environ.get("FLOWMCP_CAPTURE_ARTIFACTS") == "1" and "exception" not in record:
                record["artifacts"], unchecked = changed_artifacts(output, values, pending,
                                                                   compat.parameter_names(flow))
                if unchecked:
                    record["unchecked"] = unchecked
        except Exception as hook_error:
            record["hook_error"] = repr(hook_error)
        _write(pending["dir"], record)

    compat.install_spin_passdown_guard()  # acts only on datastores of a spin
    if compat.wrap_step_function(task_module, wrap):  # off where this Metaflow lacks what it needs
        compat.install_persist_hook(after_persist)


def _record_exception(record, ex, flow, inputs=None):
    try:
        record["exception"] = capture.exception_record(ex)
        record["available"] = sorted(n for n in set(vars(flow)) | compat.input_artifact_names(flow)
                                     if _public(n))
        parameters = compat.parameter_names(flow)
        if parameters:  # a Parameter's value is what the failing line may have tripped on
            record["parameters"] = step_facts.parameter_values(flow, parameters)
        conflicts = getattr(ex, "artifact_names", None)  # merge_artifacts: which names, not which values
        if conflicts and inputs is not None:
            record["merge_values"] = _values_per_input(list(conflicts), inputs)
    except Exception as hook_error:  # never fail while describing a failure
        record["hook_error"] = repr(hook_error)


MAX_MERGE_NAMES = 4
MAX_MERGE_INPUTS = 6


def _values_per_input(names, inputs):
    """{artifact: [[input label, summary], ...]}: what each input of a join holds for the
    artifacts `merge_artifacts` could not merge."""
    out = {}
    for name in names[:MAX_MERGE_NAMES]:
        rows = []
        for position, inp in enumerate(inputs):
            if position >= MAX_MERGE_INPUTS:
                rows.append(["…", "%d more inputs" % (len(inputs) - position)])
                break
            try:
                value = summaries.one_line(getattr(inp, name), 80)
            except AttributeError:
                value = "<not set>"
            except Exception as ex:
                value = "<unavailable: %s>" % type(ex).__name__
            rows.append([compat.input_label(inp, position), value])
        out[name] = rows
    return out


MAX_WARNING_KINDS = 5


class WarningsShown:
    """Counts every warning the step raises, each kind once — also those Metaflow's CLI hides
    (it ignores all warnings in step processes) — and shows on stderr only what the step's
    process would have shown: the filters in place before the step still decide.

    Inside, an "always" filter lets every warning reach the counter; filters the step adds
    itself go in front of it and act as they would. The counter then applies the earlier
    filters' verdict: ignore, show (once per place for "default", "module" and "once"), or
    raise it ("error"), as `warnings.warn` would have."""

    def __init__(self):
        self.seen = {}
        self._printed = set()

    def __enter__(self):
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        self._outer = list(warnings.filters)
        self._original = warnings.showwarning
        warnings.simplefilter("always")
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        return False

    def _show(self, message, category, filename, lineno, file=None, line=None):
        try:
            text = str(message).strip().splitlines()[0] if str(message).strip() else ""
            key = (category.__name__, text[:200])
            entry = self.seen.get(key)
            if entry is None and len(self.seen) < MAX_WARNING_KINDS * 4:
                entry = self.seen[key] = {"category": category.__name__, "message": text[:200],
                                          "where": "%s:%s" % (filename, lineno), "count": 0,
                                          "user": capture.is_user_file(filename)}
            if entry is not None:
                entry["count"] += 1
            action = _outer_action(self._outer, category, str(message), filename, lineno)
        except Exception:
            action = "ignore"
        if action == "error":
            raise message if isinstance(message, Warning) else category(message)
        if action == "ignore":
            return None
        if action != "always":
            place = (str(message), category, filename, lineno) if action == "default" else (str(message), category)
            if place in self._printed:
                return None
            self._printed.add(place)
        return self._original(message, category, filename, lineno, file, line)

    def records(self):
        return sorted(self.seen.values(), key=lambda e: -e["count"])[:MAX_WARNING_KINDS]


def _outer_action(filters, category, text, filename, lineno):
    """What `warnings` would have done with this warning under `filters` (its own matching rule;
    the module is told by the file's name, as `warnings.warn` tells it for most callers)."""
    module = os.path.splitext(os.path.basename(filename or ""))[0]
    for action, msg, cat, mod, ln in filters:
        if ((msg is None or msg.match(text)) and issubclass(category, cat)
                and (mod is None or mod.match(module)) and (ln == 0 or lineno == ln)):
            return action
    return "default"


def _unsaved_artifact(error):
    """The artifact Metaflow could not save (`Cannot pickle dump artifact named "x"`)."""
    import re

    match = re.search(r'artifact named "([^"]+)"', str(error))
    return match.group(1) if match else None


def _qualified_type(value):
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module in ("builtins", "__main__") else "%s.%s" % (module, name)


def _hide_this_frame(ex):
    """Leave the wrapper's own frame out of the traceback Metaflow prints and stores (`@catch`
    keeps it in the task's log): the user should see their step, then Metaflow, never flowmcp.
    Python 3.11+ re-raises with the traceback as set here; older ones put the frame back."""
    tb = ex.__traceback__
    if tb is not None and tb.tb_frame is sys._getframe(1):
        ex.__traceback__ = tb.tb_next


def _public(name, value=None):
    """An artifact the agent set and sees: not Metaflow's own (`_x`, `name`), and one Metaflow
    saves (a class or a model object is; a function is not)."""
    return not name.startswith("_") and name != "name" and (value is None or compat.saved_as_artifact(value))


def changed_artifacts(output, values, pending, parameters):
    """Every artifact the task holds that its inputs did not hold with the same value — set,
    changed in place, merged (`merge_artifacts`) or taken from `inputs` — by content key.

    The keys are Metaflow's own where it saved the task (a run, a persisted spin); otherwise
    (a spin without persist) each input the step read is serialized as Metaflow would, to see
    whether it changed. Returns (summaries, names of large inputs that were not checked)."""
    inputs = pending.get("inputs") or []
    join = pending.get("join")
    saved = compat.saved_keys(output)
    held = compat.content_keys(output)  # what the task holds, saved or handed down by key
    names = [n for n, v in values.items() if _public(n, v) and n not in parameters]
    names += [n for n in held
              if _public(n) and n not in values and n not in parameters and (join or saved is not None)]
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
            if key not in before and value is not _MISSING and _same_as_input(output, name, value, inputs):
                before.append(key)  # only read: its pickle is not byte-stable, its value did not change
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
        entry = summaries.summarize(value, max_chars=600)
        entry["change"] = change
        out[name] = entry
        if len(out) >= MAX_CHANGED:
            break
    return out, unchecked


def _same_as_input(output, name, value, inputs):
    """Whether the value the step holds is its input's, unchanged. Reading an artifact puts it on
    the flow object and Metaflow saves it again, and some pickles are not byte-stable: a fitted
    estimator pickles differently the first time it is loaded in a process than after (shared
    strings). A copy of each made by pickling once more pickles the same, so compare those."""
    held = _settled_key(output, value)
    if held is None:
        return False
    for _, _, ds in inputs:
        if (compat.stored_size(ds, name) or 0) > MAX_HASHED_BYTES:
            continue
        try:
            if _settled_key(output, ds[name]) == held:
                return True
        except Exception:
            continue
    return False


def _settled_key(output, value):
    """The content key of a copy of `value` made by pickling it and loading it back."""
    import pickle

    try:
        return compat.content_key(output, pickle.loads(pickle.dumps(value, protocol=4)))
    except Exception:
        return None


class _Unloaded:
    """Stands in for an artifact that could not be read back to summarize it."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return "<not readable: %s>" % self.why


def _write(capture_dir, record):
    """The record as `<run>.<step>.<task>.json`, written atomically (the server may be reading)."""
    try:
        from metaflow import current

        # One file per attempt (@retry runs a task again in a new process): sorted, the last is last
        name = "%s.%s.%s.%d.json" % (current.run_id, current.step_name, current.task_id, record.get("attempt") or 0)
        record["run_id"] = current.run_id
        record["task_id"] = int(current.task_id) if str(current.task_id).isdigit() else 0
        os.makedirs(capture_dir, exist_ok=True)
        path = os.path.join(capture_dir, name)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f, default=str)
        os.replace(path + ".tmp", path)
    except Exception:
        pass  # the answer falls back to the printed traceback
