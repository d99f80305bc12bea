"""INSPECT and ARTIFACT_VALUE: one artifact, summarized where it lives; the path language into it.

A path (`["weights"][0].coef_`) is parsed, never evaluated. Values are loaded here, in the
project's interpreter, so user classes unpickle and a 1 GB value never reaches the server.
"""

import ast
import base64
import difflib
import json
import os
import re
import runpy
import sys
from pathlib import Path

from ...state.catalog import FlowCatalog
from ...summarize import artifacts as summaries
from ...summarize import splits
from .. import metaflow_compat as compat
from ..protocol import BAD_PATH, MAX_RESOURCE_CHARS, NO_ARTIFACT, NOT_A_PICTURE, NOT_FOUND, NOT_PERSISTED, JobError
from . import images, runs, tasks

PATH_TOKEN = re.compile(
    r"""\s*(?:
        \[\s*(?P<int>-?\d+)\s*\]                       # [0]
      | \[\s*(?P<q>['"])(?P<key>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\]   # ["weights"]
      | \.?(?P<attr>[A-Za-z_][A-Za-z0-9_]*)            # .coef_ or a leading name
    )""",
    re.VERBOSE,
)


def parse_path(path):
    """`["weights"][0].coef_` -> [("key","weights"), ("index",0), ("attr","coef_")]; never eval."""
    steps = []
    pos = 0
    path = path.strip()
    while pos < len(path):
        m = PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise JobError(
                BAD_PATH,
                "Cannot parse path %r at character %d (%r). Use ['key'], [0] and .attr, e.g. "
                "[\"weights\"][0] or .coef_" % (path, pos, path[pos : pos + 10]),
            )
        if m.group("int") is not None:
            steps.append(("index", int(m.group("int"))))
        elif m.group("q") is not None:
            steps.append(("key", _string_key(m.group("q") + m.group("key") + m.group("q"), path)))
        else:
            steps.append(("attr", m.group("attr")))
        pos = m.end()
    return steps


def _string_key(literal, path):
    """A quoted key as Python reads the same string literal (escapes and non-ASCII alike); a
    literal is all `ast.literal_eval` accepts, so nothing is evaluated."""
    try:
        return ast.literal_eval(literal)
    except (SyntaxError, ValueError) as ex:
        why = getattr(ex, "msg", None) or str(ex)
        raise JobError(BAD_PATH, "The key %s in path %r is not a valid Python string (%s); write it as in "
                                 "Python, with a backslash doubled" % (literal, path, why))


def _render_path(steps):
    out = ""
    for kind, v in steps:
        out += "[%r]" % v if kind != "attr" else "." + v
    return out


MAX_KEYS_LISTED = 15


def walk_path(value, steps):
    """Follow parsed path steps into `value`; a step that fails says where the path stopped."""
    for i, (kind, v) in enumerate(steps):
        try:
            if kind == "attr":
                if v.startswith("__"):
                    raise JobError(BAD_PATH, "Dunder attributes are not inspected: %r" % v)
                value = getattr(value, v)
            elif kind == "index" and hasattr(value, "iloc") and not hasattr(value, "columns"):
                value = value.iloc[v]  # a Series: [0] means the first row, not the label 0
            else:
                value = value[v]
        except JobError:
            raise
        except Exception as ex:
            raise JobError(BAD_PATH, _path_stopped(value, steps, i, ex))
    return value


def _path_stopped(value, steps, i, ex):
    kind, v = steps[i]
    where = _render_path(steps[:i]) or "the artifact"
    missing = ("attribute %r" % v) if kind == "attr" else ("item [%r]" % (v,))
    message = "Path stopped at %s: it has no %s (%s)." % (where, missing, type(ex).__name__)
    try:
        if kind == "attr":
            names = [a for a in dir(value) if not a.startswith("_")]
        elif hasattr(value, "columns"):
            names = [str(c) for c in list(value.columns)[:2000]]
        elif hasattr(value, "keys"):
            names = [str(k) for k in list(value.keys())[:2000]]
        else:
            return message + " It has length %d." % len(value)
    except Exception:
        return message
    close = difflib.get_close_matches(str(v), names, n=3)
    if close:
        message += " Did you mean %s?" % " or ".join(repr(c) for c in close)
    shown = ", ".join(names[:MAX_KEYS_LISTED]) + (" …" if len(names) > MAX_KEYS_LISTED else "")
    return message + " It has %d %s: %s" % (len(names), "attributes" if kind == "attr" else "keys", shown)


def load_artifact(task, name):
    """Unpickle one artifact; classes from the flow file or the user's modules are made findable.

    A class defined in the flow file is pickled as `__main__.Box`, and `import shapes` works only
    from the flow's folder: on such a failure, load the flow's module namespace into `__main__`,
    put its folder on sys.path, and try once more."""
    try:
        return task[name].data
    except (AttributeError, ImportError) as first:
        flow_file = _flow_file_of(task)
        if flow_file is None:
            raise first
        import __main__

        sys.path.insert(0, os.path.dirname(flow_file))
        stem = os.path.splitext(os.path.basename(flow_file))[0]  # classes then read `Box (box_flow)`
        namespace_ = runpy.run_path(flow_file, run_name=stem)
        for key, value in namespace_.items():
            if not key.startswith("__"):
                setattr(__main__, key, value)
        return task[name].data


def _flow_file_of(task):
    """The flow file a task's run was started from: flowmcp's ledger says for its runs; else the
    first file of the script's name in the project (the driver's working directory)."""
    flow, run_id = task.pathspec.split("/")[:2]
    recorded = (runs.ledger_entry(flow, run_id) or {}).get("file")
    if recorded and os.path.isfile(recorded):
        return os.path.abspath(recorded)
    script = runs.task_meta(task).get("script-name")
    if not script:
        return None
    for path, _ in FlowCatalog(Path(os.getcwd())).python_files():
        if path.name == script:
            return str(path)
    return None


def no_artifact(task, name, names):
    """The JobError for a name the task does not hold: close matches, and the names it does."""
    public = [n for n in names if not n.startswith("_") and n != "name"]  # `name` is Metaflow's own
    close = difflib.get_close_matches(name, public, n=3, cutoff=0.5)
    msg = "No artifact %r in %s." % (name, task.pathspec)
    if close:
        msg += " Did you mean %s?" % " or ".join(repr(c) for c in close)
    if public:
        msg += " Available: %s." % ", ".join(public[:40]) + (" …" if len(public) > 40 else "")
    return JobError(NO_ARTIFACT, msg, close=close, available=public[:200])


def op_inspect(req):
    compat.any_namespace()
    pathspec = req["pathspec"]
    spin = bool(req.get("spin"))
    if spin:
        check_persisted(pathspec)
    try:
        if not spin and pathspec.strip("/").count("/") == 2 and req.get("split") is None:
            found = tasks.tasks_by_split(pathspec)
            if len(found) > 1:
                return across_splits(req, pathspec, found)
            task = found[0][1]
        else:
            task = tasks.open_task(pathspec, spin, req.get("split"))
        names = sorted(a.id for a in task.artifacts)
    except JobError:
        raise
    except Exception as ex:
        raise JobError(
            NOT_FOUND,
            "No task at %s (%s). Pathspecs look like Flow/run/step[/task]; list_runs shows runs."
            % (pathspec, type(ex).__name__),
        )
    name = req["name"]
    if name not in names:
        raise no_artifact(task, name, names)
    value = load_artifact(task, name)
    steps = parse_path(req["path"]) if req.get("path") else []
    value = walk_path(value, steps)
    summary = summaries.summarize(value, max_chars=int(req.get("max_chars") or 1500))
    summary["pathspec"] = task.pathspec
    summary["split"] = None if spin else splits.from_metadata(runs.task_meta(task))
    summary["name"] = name
    summary["path"] = _render_path(steps) if steps else None
    summary["picture"] = images.kind(value)
    if req.get("as_image"):
        try:
            picture = images.picture(value)
        except images.NotAPicture as ex:
            what = summary.get("summary") or type(value).__name__
            raise JobError(NOT_A_PICTURE, "%s.%s%s is %s: %s. as_image shows a matplotlib Figure or Axes, a PIL "
                           "image, a numpy image array (H×W, H×W×3 or H×W×4) or PNG/JPEG bytes."
                           % (task.pathspec, name, summary["path"] or "", what, ex))
        picture["data"] = base64.b64encode(picture["data"]).decode("ascii")
        summary["image"] = picture
    return summary


MAX_SPLIT_ROWS = 12  # splits whose value is loaded and summarized in one answer
SPLIT_SUMMARY_CHARS = 160


def across_splits(req, pathspec, tasks):
    """One artifact in every split of a foreach step: a line per split (its first MAX_SPLIT_ROWS,
    by index), each loaded and summarized where it lives."""
    name = req["name"]
    steps = parse_path(req["path"]) if req.get("path") else []
    rows, types = [], set()
    for split, task in tasks[:MAX_SPLIT_ROWS]:
        row = {"split": split, "task": task.pathspec}
        try:
            value = walk_path(load_artifact(task, name), steps)
        except JobError as ex:
            row["summary"] = ex.message
        except KeyError:
            row["summary"] = "not set in this split"
        except Exception as ex:
            row["summary"] = "<unreadable: %s>" % type(ex).__name__
        else:
            summary = summaries.summarize(value, max_chars=SPLIT_SUMMARY_CHARS)
            row["summary"] = summary.get("summary", "")
            types.add(summary.get("type") or type(value).__name__)
        rows.append(row)
    if all(r["summary"] == "not set in this split" for r in rows):
        names = sorted({a.id for _, t in tasks[:1] for a in t.artifacts} - {"name"})
        close = difflib.get_close_matches(name, [n for n in names if not n.startswith("_")], n=3, cutoff=0.5)
        msg = "No artifact %r in %s." % (name, pathspec)
        if close:
            msg += " Did you mean %s?" % " or ".join(repr(c) for c in close)
        raise JobError(NO_ARTIFACT, msg, close=close, available=[n for n in names if not n.startswith("_")][:200])
    return {"pathspec": pathspec, "name": name, "path": _render_path(steps) if steps else None,
            "type": types.pop() if len(types) == 1 else "mixed", "summary": "in %d splits" % len(tasks),
            "splits": rows, "total_splits": len(tasks)}


def check_persisted(pathspec):
    """A spin without --persist kept none of its outputs (only its parameters): say so, and how to
    keep them, rather than list what it did keep or fail to open its task."""
    flow, run_id = pathspec.split("/")[:2]
    if not compat.spin_persisted(flow, run_id):
        step = (pathspec.split("/") + [None, None])[2]
        raise JobError(NOT_PERSISTED, "%s is a spin that was not persisted: Metaflow kept none of its outputs. Spin "
                                      "%s again with persist=true; then inspect_artifact reads them from that "
                                      "spin's pathspec." % (pathspec, step or "the step"))


def op_artifact_value(req):
    """An artifact as JSON when it is JSON data of reasonable size, else its summary."""
    compat.any_namespace()
    if req.get("spin"):
        check_persisted(req["pathspec"])
    task = tasks.open_task(req["pathspec"], bool(req.get("spin")))
    names = sorted(a.id for a in task.artifacts)
    if req["name"] not in names:  # `__class__` too: a task's attribute, no artifact
        raise no_artifact(task, req["name"], names)
    value = load_artifact(task, req["name"])
    try:
        text = json.dumps(value, indent=1)
        if len(text) <= MAX_RESOURCE_CHARS:
            return {"mime": "application/json", "text": text}
    except (TypeError, ValueError):
        pass
    return {"mime": "text/plain", "text": summaries.describe(value)}

