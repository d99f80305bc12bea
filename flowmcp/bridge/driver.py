"""The half of the bridge that runs inside the project's own interpreter.

The server never imports Metaflow or the user's code: it starts this script with the project's
Python (`python driver.py REQUEST.json RESULT.json`), which does one job — describe a flow, run
it, spin a step, read runs or summarize an artifact — and writes one JSON result. Only the
standard library and Metaflow are imported here, so it works in any project environment.

Result shape: {"ok": true, "data": {...}} or {"ok": false, "error": {"kind": ..., "message": ...,
...}}. Anything the flow or Metaflow prints goes to this process's stdout/stderr, which the
server captures to files; the result file is the only channel the server parses.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import runpy
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(HERE)

STATUS_SCAN_LIMIT = 5000  # runs examined at most when filtering list_runs by status


class DriverError(Exception):
    """An expected failure with a message for the agent; `kind` tells the server what it was."""

    def __init__(self, kind, message, **extra):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra


def _load_standalone(name, relpath):
    """One of flowmcp's stdlib-only modules, loaded by path (flowmcp is not installed here)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(PACKAGE_DIR, relpath))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def artifacts():
    return _load_standalone("_flowmcp_artifacts", os.path.join("summarize", "artifacts.py"))


def capture():
    return _load_standalone("_flowmcp_capture", os.path.join("bridge", "capture.py"))


def compat():
    return _load_standalone("_flowmcp_compat", os.path.join("bridge", "metaflow_compat.py"))


def card_tools():
    return _load_standalone("_flowmcp_cards", os.path.join("summarize", "cards.py"))


def log_tools():
    return _load_standalone("_flowmcp_logs", os.path.join("summarize", "logs.py"))


# --------------------------------------------------------------------------- flow loading


def load_flow(flow_file):
    """The flow of a file as `python flow.py` sees it: (flow class, graph, Metaflow's refusal).

    The file runs as `__main__` with Metaflow's `show` command, whose work is replaced by a
    recorder: Metaflow's CLI processes the flow's Configs and mutators as for a run, and we keep
    the resulting class and graph. A file that never starts the CLI (no `Flow()` under
    `if __name__ == "__main__"`) is described from the classes it defines."""
    mfc = compat()
    seen = {}
    code, caught = run_cli(flow_file, ["--quiet", "--no-pylint", "show"],
                           on_cli=lambda cli: mfc.record_cli_state(cli, "show", seen))
    if caught.get("syntax"):
        record = caught["syntax"]
        raise DriverError("syntax", "%s: %s" % (record.get("type"), record.get("message")), exception=record)
    if "obj" in seen:
        obj = seen["obj"]
        return type(obj.flow), obj.graph, None
    if caught.get("metaflow"):
        # Metaflow refused to start the flow's CLI (a @pypi step without --environment, a Config
        # file that does not parse): the flow is still what its classes say; runs will say why.
        error = caught["metaflow"]
        try:
            return _defined_flow(flow_file), None, error
        except DriverError:
            raise DriverError("flow_cli", "%s: %s" % (error.get("headline") or error["type"], error["message"]),
                              metaflow=error)
    if caught.get("exception"):
        record = caught["exception"]
        raise DriverError("flow_import", "loading the flow file failed: %s: %s"
                          % (record.get("type"), record.get("message")), exception=record)
    if code:
        raise DriverError("flow_import", "the flow file called sys.exit(%r) while loading" % (code,))
    cls = _defined_flow(flow_file)
    # `python file.py` would do nothing: a module of base flows, or a flow missing its last lines.
    return cls, None, {"type": "NotStarted", "headline": "Not a runnable flow file",
                       "message": "%s defines %s but never starts it: a flow file ends with "
                                  "`if __name__ == \"__main__\": %s()`" % (os.path.basename(flow_file), cls.__name__,
                                                                         cls.__name__)}


def _defined_flow(flow_file):
    """The one FlowSpec class a file defines (it did not start Metaflow's CLI itself)."""
    from metaflow import FlowSpec

    import __main__

    classes = []
    for value in list(vars(__main__).values()):
        value = compat().flow_class_of(value)
        if (isinstance(value, type) and issubclass(value, FlowSpec) and value is not FlowSpec
                and value.__module__ == "__main__" and value not in classes):
            classes.append(value)
    if not classes:
        raise DriverError(
            "no_flow",
            "%s defines no FlowSpec subclass; a flow file defines exactly one "
            "`class MyFlow(FlowSpec)`." % os.path.basename(flow_file),
        )
    if len(classes) > 1:
        # Subclasses of another flow in the same file: the most derived one is the flow.
        leaves = [c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)]
        if len(leaves) != 1:
            raise DriverError(
                "several_flows",
                "%s defines several flows (%s); keep one FlowSpec subclass per file."
                % (os.path.basename(flow_file), ", ".join(c.__name__ for c in classes)),
            )
        classes = leaves
    return classes[0]


def _param_kwargs(param):
    """A Parameter's settings: explicit arguments win over **kwargs, as Parameter.init does."""
    kwargs = {k: v for k, v in (getattr(param, "kwargs", None) or {}).items() if v is not None}
    kwargs.update({k: v for k, v in (getattr(param, "_override_kwargs", None) or {}).items() if v is not None})
    return kwargs


def _type_name(kwargs):
    t = kwargs.get("type")
    default = kwargs.get("default")
    if t is None and default is not None and not callable(default):
        t = type(default)  # Metaflow infers the type from the default the same way
    if t is None:
        return "str"
    if isinstance(t, type):
        return t.__name__
    # Metaflow's click types: say what the agent passes, not the class's name (`FilePathClass`).
    kind = type(t).__name__
    if "JSON" in kind:
        return "json"
    if "FilePath" in kind:
        return "file"
    return getattr(t, "name", None) or kind


def _jsonable(value):
    if callable(value):
        return "<computed at run time>"
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def describe_flow_class(cls, flow_file, graph=None):
    from metaflow.graph import FlowGraph

    params, configs = [], []
    for _, p in cls._get_parameters():
        kw = _param_kwargs(p)
        if getattr(p, "IS_CONFIG_PARAMETER", False):
            configs.append({"name": p.name, "default": _jsonable(kw.get("default", kw.get("default_value"))),
                            "required": bool(kw.get("required")), "help": kw.get("help")})
            continue
        params.append(
            {
                "name": p.name,
                "type": _type_name(kw),
                "default": _jsonable(kw.get("default")),
                "required": bool(kw.get("required")),
                "help": kw.get("help"),
                "is_file": type(p).__name__ == "IncludeFile",
            }
        )
    graph = graph if graph is not None else FlowGraph(cls)
    # Graph order first; steps no transition reaches (a typo in self.next) still exist: add them.
    ordered = [graph[name] for name in getattr(graph, "sorted_nodes", [])]
    ordered += sorted((n for n in graph if n not in ordered), key=lambda n: n.func_lineno)
    steps = [
        {
            "name": node.name,
            "type": node.type,
            "next": list(node.out_funcs),
            "foreach": node.foreach_param,
            "line": node.func_lineno,
            "inputs": list(node.in_funcs),
            "decorators": compat().step_decorator_names(node),
        }
        for node in ordered
    ]
    return {"flow_name": cls.__name__, "file": flow_file, "parameters": params, "configs": configs,
            "steps": steps, "flow_decorators": compat().flow_decorator_names(cls)}


def op_describe(req):
    cls, graph, cli_error = load_flow(req["flow_file"])
    described = describe_flow_class(cls, req["flow_file"], graph)
    described["cli_error"] = cli_error
    return described


# --------------------------------------------------------------------------- client reads


def _client_setup(req):
    import metaflow

    metaflow.namespace(None)  # the agent asks for any run in this root, whoever started it
    return metaflow


def _ts(dt):
    if dt is None:
        return None
    try:
        return dt.timestamp()
    except Exception:
        return None


def _meta(task):
    try:
        return task.metadata_dict
    except Exception:
        return {}


def task_status(task, meta=None):
    """'succeeded', 'failed' or 'running' from what a local task leaves behind.

    Local failures never get finished=True; attempt_ok=False is the only signal."""
    meta = _meta(task) if meta is None else meta
    ok = meta.get("attempt_ok")
    if ok == "True":
        return "succeeded"
    if ok == "False":
        return "failed"
    try:
        if task.finished:
            return "succeeded" if task.successful else "failed"
    except Exception:
        pass
    return "running"


def _task_times(task):
    """(start, end) epoch seconds; `end` from the attempt's last status record.

    Failed local tasks have no `finished_at`, but their attempt_ok record carries a time."""
    start = _ts(getattr(task, "created_at", None))
    try:
        stamps = [m.created_at / 1000.0 for m in task.metadata  # epoch milliseconds
                  if m.name in ("attempt-done", "attempt_ok") and m.created_at]
    except Exception:
        stamps = []
    return start, (max(stamps) if stamps else None)


def run_record(run, detail=False):
    """Status, times and steps of one run; `detail` adds per-step tasks and the failure."""
    if not detail:
        quick = _successful_run_record(run)
        if quick is not None:
            return quick
    steps = []
    failed = None
    run_start = _ts(run.created_at)
    run_end = None
    step_objs = list(run)
    step_objs.reverse()  # the client lists newest first
    for step in step_objs:
        tasks = list(step)
        statuses = []
        starts, ends = [], []
        for task in tasks:
            meta = _meta(task)
            st = task_status(task, meta)
            statuses.append(st)
            s, e = _task_times(task)
            if s:
                starts.append(s)
            if e:
                ends.append(e)
            if st == "failed" and failed is None:
                failed = task
        if "failed" in statuses:
            sstatus = "failed"
        elif "running" in statuses or not statuses:
            sstatus = "running"
        else:
            sstatus = "succeeded"
        duration = (max(ends) - min(starts)) if starts and ends else None
        if ends:
            run_end = max(run_end or 0, max(ends))
        steps.append(
            {
                "step": step.id,
                "status": sstatus,
                "tasks": len(tasks),
                "failed_tasks": statuses.count("failed"),
                "duration_s": round(duration, 3) if duration is not None else None,
                "started_at": min(starts) if starts else None,
            }
        )
    steps.sort(key=lambda s: s["started_at"] or 0)
    try:
        finished = run.finished
        successful = run.successful
    except Exception:
        finished = successful = False
    if successful:
        status = "succeeded"
    elif failed is not None or finished:
        status = "failed"
    else:
        status = "running"  # no failure recorded and not finished: still going (or killed)
    try:
        tags = sorted(t for t in run.user_tags)
    except Exception:
        tags = []
    entry = ledger_entry(run.parent.id, run.id)
    status, why = true_status(status, entry)
    rec = {
        "pathspec": run.pathspec,
        "run_id": run.id,
        "status": status,
        "started_at": run_start,
        "duration_s": round(run_end - run_start, 3) if run_end and run_start else None,
        "failed_step": failed.parent.id if failed is not None else None,
        "failed_task": failed.pathspec if failed is not None else None,
        "tags": tags,
        "file": (entry or {}).get("file"),
    }
    if why:
        rec["ended"] = why
    if detail:
        rec["steps"] = steps
        if failed is not None:
            rec["failure"] = task_failure(failed)
    return rec


def ledger_entry(flow_name, run_id):
    """What flowmcp recorded of a run it started (`flowmcp/ledger.py`), or None."""
    root = os.environ.get("FLOWMCP_ROOT") or os.getcwd()
    path = os.path.join(root, ".flowmcp", "runs", flow_name, "%s.json" % run_id)
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(entry):
    """Whether the process that drives a run is still there (False: gone; None: unknown)."""
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # someone else's process: it exists
    started = entry.get("pid_start")
    if started:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[19] != started:
                    return False  # the pid was reused by another process
        except (OSError, IndexError):
            pass
    return True


def true_status(status, entry):
    """Metaflow's view of a run, corrected by what flowmcp knows of its processes: a run flowmcp
    stopped is "cancelled" or "timed_out", and one whose processes are gone is never "running".
    Returns (status, why) with `why` set when it differs from Metaflow's."""
    if entry is None or status == "succeeded":
        return status, None
    ended = entry.get("ended") or {}
    if ended.get("status") in ("cancelled", "timed_out"):
        return ended["status"], ended.get("message") or ended["status"]
    if status == "running" and _alive(entry) is False:
        return "failed", ("its processes are gone: it ended without recording an end (the server that "
                          "started it stopped, or it was killed)")
    return status, None


def _successful_run_record(run):
    """A finished, successful run, read without visiting every task (list_runs over thousands
    of runs); None for any other run, which needs the full walk to find its failed step."""
    try:
        if not run.successful:
            return None
        start, end = _ts(run.created_at), _ts(run.finished_at)
        tags = sorted(run.user_tags)
    except Exception:
        return None
    return {
        "pathspec": run.pathspec,
        "run_id": run.id,
        "status": "succeeded",
        "started_at": start,
        "duration_s": round(end - start, 3) if start and end else None,
        "failed_step": None,
        "failed_task": None,
        "tags": tags,
        "file": (ledger_entry(run.parent.id, run.id) or {}).get("file"),
    }


def task_failure(task):
    """What a failed task left: its stored exception, stderr tail and stdout tail."""
    out = {"task": task.pathspec, "step": task.parent.id}
    try:
        exc = task.exception
        if exc is not None:
            out["stored_exception"] = {
                "type": getattr(exc, "type", None),
                "message": str(getattr(exc, "exception", ""))[:4000],
                "stacktrace": getattr(exc, "stacktrace", None),
            }
    except Exception:
        pass
    out["stderr"] = _bounded_log(task, "stderr")
    out["stdout"] = _bounded_log(task, "stdout")
    return out


def _bounded_log(task, stream, max_chars=200_000):
    try:
        text = getattr(task, stream) or ""
    except Exception:
        return ""
    if len(text) > max_chars:
        # keep head and tail: tracebacks sit at the end, context at the start
        cut = "\n[... %d chars cut ...]\n" % (len(text) - max_chars)
        text = text[: max_chars // 4] + cut + text[-(max_chars * 3 // 4) :]
    return text


def op_runs(req):
    mf = _client_setup(req)
    flow_name = req["flow_name"]
    status = req.get("status", "any")
    limit = int(req.get("limit", 10))
    cursor = req.get("cursor")
    identity = req.get("identity")
    run_ids = _sorted_run_ids(flow_name)
    spin_ids = set()
    if req.get("include_spins"):
        spin_ids = set(_spin_run_ids(flow_name))
        run_ids = sorted(set(run_ids) | spin_ids, key=_run_sort_key, reverse=True)
    total = len(run_ids) if identity is None else None  # counting another file's runs out means reading them all
    if cursor:
        run_ids = [r for r in run_ids if _run_sort_key(r) < _run_sort_key(cursor)]
    out = []
    examined = unattributed = 0
    next_cursor = None
    for rid in run_ids:
        if examined >= STATUS_SCAN_LIMIT:
            next_cursor = rid
            break
        examined += 1
        try:
            if rid in spin_ids:
                rec = spin_record(flow_name, rid)
            else:
                run = mf.Run("%s/%s" % (flow_name, rid), _namespace_check=False)
                if identity is not None:
                    source = run_file(run, identity)
                    if source != identity["file"]:
                        unattributed += source is None
                        continue
                rec = run_record(run)
        except Exception:
            continue
        if status != "any" and rec["status"] != status:
            continue
        out.append(rec)
        if len(out) >= limit:
            break
    if len(out) >= limit:
        last = out[-1]["run_id"]
        if any(_run_sort_key(r) < _run_sort_key(last) for r in run_ids):
            next_cursor = last
    return {"runs": out, "next_cursor": next_cursor, "total_runs": total, "unattributed": unattributed}


def run_file(run, identity):
    """Which of the files that define this flow class a run came from, or None when it cannot be
    told: flowmcp's ledger for the runs it started, else the script name Metaflow recorded, else
    the only file whose steps include every step the run ran."""
    entry = ledger_entry(run.parent.id, run.id)
    if entry and entry.get("file"):
        return entry["file"]
    candidates = [identity] + list(identity.get("rivals") or [])
    try:
        script = _meta(run["start"].task).get("script-name")
    except Exception:
        script = None
    if script:
        candidates = [c for c in candidates if os.path.basename(c["file"]) == script]
    if len(candidates) > 1:
        try:
            ran = {step.id for step in run}
        except Exception:
            ran = set()
        candidates = [c for c in candidates if ran and ran <= set(c["steps"])]
    return candidates[0]["file"] if len(candidates) == 1 else None


def _spin_run_ids(flow_name):
    root = os.path.join(spin_metadata_root(), ".metaflow_spin", flow_name)
    try:
        return [n for n in os.listdir(root) if n[:1].isdigit() and os.path.isdir(os.path.join(root, n))]
    except OSError:
        return []


def spin_record(flow_name, run_id):
    """A spin 'run' holds one step with one task: report it like a run."""
    folder = os.path.join(spin_metadata_root(), ".metaflow_spin", flow_name, run_id)
    steps = [n for n in os.listdir(folder) if not n.startswith((".", "_"))]
    step = steps[0] if steps else "?"
    task = spin_task("%s/%s/%s/0" % (flow_name, run_id, step))
    meta = _meta(task)
    status, why = true_status(task_status(task, meta), ledger_entry(flow_name, run_id))
    start, end = _task_times(task)
    return {
        "ended": why,
        "pathspec": "%s/%s" % (flow_name, run_id),
        "run_id": run_id,
        "status": status,
        "started_at": start,
        "duration_s": round(end - start, 3) if start and end else None,
        "failed_step": step if status == "failed" else None,
        "failed_task": task.pathspec if status == "failed" else None,
        "tags": [],
        "spin_step": step,
    }


def _run_sort_key(run_id):
    run_id = str(run_id)
    return (0, int(run_id), "") if run_id.isdigit() else (1, 0, run_id)


def local_datastore_root():
    """The `.metaflow` folder Metaflow itself would use from here (it searches parent folders)."""
    from metaflow.plugins.datastores.local_storage import LocalStorage

    return LocalStorage.get_datastore_root_from_config(None, create_on_absent=False)


def _sorted_run_ids(flow_name):
    """Run ids of a flow, newest first, from the local datastore's folder names.

    Listing folders is cheap; loading every run's metadata to sort 10,000 runs is not."""
    datastore = local_datastore_root()
    if datastore is None:
        return []
    root = os.path.join(datastore, flow_name)
    try:
        names = [n for n in os.listdir(root) if n[:1].isalnum() and n not in ("data",)]
    except OSError:
        return []
    names = [n for n in names if os.path.isdir(os.path.join(root, n))]
    names.sort(key=_run_sort_key, reverse=True)
    return names


def op_flows(req):
    """Flows in the root with their latest run (list_runs without a flow)."""
    mf = _client_setup(req)
    out = []
    for fd in req["flow_files"]:
        entry = {"file": fd["file"], "flow_name": fd.get("flow_name")}
        name = fd.get("flow_name")
        identity = fd.get("identity")
        if name:
            ids = _sorted_run_ids(name)
            runs = _runs_of(mf, name, ids, identity)
            entry["runs"] = len(ids) if identity is None else sum(1 for _ in _runs_of(mf, name, ids, identity))
            latest = next(runs, None)
            if latest is not None:
                try:
                    entry["latest_run"] = run_record(latest)
                except Exception:
                    entry["latest_run"] = None
        out.append(entry)
    return {"flows": out}


def _runs_of(mf, flow_name, run_ids, identity):
    """The runs among `run_ids` (newest first) that came from the identity's file."""
    for rid in run_ids:
        try:
            run = mf.Run("%s/%s" % (flow_name, rid), _namespace_check=False)
        except Exception:
            continue
        if identity is None or run_file(run, identity) == identity["file"]:
            yield run


def op_run_detail(req):
    mf = _client_setup(req)
    run = mf.Run(req["pathspec"], _namespace_check=False)
    return run_record(run, detail=True)


# --------------------------------------------------------------------------- running the CLI


def run_cli(flow_file, argv, on_cli=None):
    """Run the flow's Metaflow CLI in this process; return (exit code, captured top-level error).

    Running in-process saves one interpreter start per call, and lets us catch Metaflow's own
    errors (graph problems, bad pathspecs) as objects before they are printed. `on_cli(module)`
    runs when the flow has imported Metaflow's CLI, before any command."""
    mfc = compat()
    caught = {}

    def on_metaflow_exception(ex):
        caught["metaflow"] = {
            "type": type(ex).__name__,
            "headline": getattr(ex, "headline", ""),
            "message": str(getattr(ex, "message", ex))[:20000],
            "file": getattr(ex, "source_file", None),
            "line": getattr(ex, "line_no", None),
        }

    def on_unknown_exception(ex):
        caught["exception"] = capture().exception_record(ex)

    def on_usage_error(ex):
        caught["metaflow"] = {"type": type(ex).__name__, "headline": "",
                              "message": str(ex.format_message())[:20000], "file": None, "line": None}

    def prepare(cli):
        mfc.catch_cli_errors(cli, on_metaflow_exception, on_unknown_exception)
        if on_cli is not None:
            on_cli(cli)

    hook = mfc.when_cli_imported(prepare)
    undo_usage = mfc.catch_usage_errors(on_usage_error)
    flow_dir = os.path.dirname(os.path.abspath(flow_file))
    saved = sys.argv, list(sys.path)
    sys.argv = [flow_file] + argv
    sys.path.insert(0, flow_dir)
    code = 0
    try:
        exec_as_main(flow_file)
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
    except SyntaxError as ex:
        caught["syntax"] = capture().exception_record(ex)
        code = 1
    except BaseException as ex:
        caught["exception"] = capture().exception_record(ex)
        code = 1
    finally:
        sys.argv, sys.path[:] = saved[0], saved[1]
        hook.remove()
        undo_usage()
    return code, caught


def exec_as_main(flow_file):
    """Execute the flow file in the real `__main__` module, as `python flow.py` would.

    Not runpy: it swaps in a temporary `__main__`, and Metaflow pickles classes it registered
    on the real one (`__main__.ForeachFrame`), so foreach runs would fail to unpickle. The flow
    imports Metaflow's CLI itself, as under `python flow.py` (see `forget_cli`)."""
    import __main__

    with open(flow_file, "rb") as f:
        source = f.read()
    code = compile(source, flow_file, "exec")
    __main__.__file__ = flow_file
    __main__.__dict__.pop("__cached__", None)
    compat().forget_cli()
    exec(code, __main__.__dict__)


def _read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _latest_run_file(flow_name):
    datastore = local_datastore_root()
    return os.path.join(datastore, flow_name, "latest_run") if datastore else None


def run_argv(req):
    """The flow CLI's arguments for a run or a resume: `[--environment E] run|resume ...`.

    Scale-out goes through Metaflow itself: `with` entries become `--with kubernetes:cpu=4`,
    `environment` becomes `--environment conda`; the active Metaflow config (profile, metadata
    service, datastore) applies as it would on the command line."""
    argv = ["--quiet", "--no-pylint"]
    if req.get("environment"):
        argv += ["--environment", req["environment"]]
    resume = req.get("resume")
    if resume:
        argv.append("resume")
        if resume.get("step"):
            argv.append(resume["step"])
        argv += ["--origin-run-id", str(resume["origin_run_id"])]  # never Metaflow's latest_run guess
    else:
        argv.append("run")
    argv += ["--run-id-file", req["run_id_file"]]
    for tag in req.get("tags", []):
        argv += ["--tag", tag]
    for decorator in req.get("with", []):
        argv += ["--with", decorator]
    if req.get("max_workers"):
        argv += ["--max-workers", str(req["max_workers"])]
    for name, value in req.get("cli_parameters", []):
        argv += ["--" + name, value]
    return argv


def op_run(req):
    flow_file = req["flow_file"]
    started = time.time()
    code, caught = run_cli(flow_file, run_argv(req))
    elapsed = time.time() - started
    run_id = _read_text(req["run_id_file"])
    result = {"exit_code": code, "cli_error": caught or None, "elapsed_s": round(elapsed, 3)}
    if run_id:
        mf = _client_setup(req)
        try:
            run = mf.Run("%s/%s" % (req["flow_name"], run_id), _namespace_check=False)
            result["run"] = run_record(run, detail=True)
        except Exception as ex:
            result["run"] = None
            result["read_error"] = "%s: %s" % (type(ex).__name__, ex)
    return result


# --------------------------------------------------------------------------- spin


def _runs_newest_first(mf, flow_name, identity=None):
    return _runs_of(mf, flow_name, _sorted_run_ids(flow_name), identity)


def resolve_source(req):
    """The original task a spin re-runs: explicit run/task, else the latest successful run.

    Metaflow itself takes `latest_run` (a spin or a failed run may have set it) and, for a
    foreach, whichever split was created last; we pick deliberately and say what we picked."""
    mf = _client_setup(req)
    flow_name, step = req["flow_name"], req["step"]
    run_arg, task_arg = req.get("run"), req.get("task")
    notes = []
    if run_arg:
        run_arg = str(run_arg)
        parts = run_arg.split("/")
        if len(parts) == 1:
            run_id = parts[0]
        elif len(parts) == 2 and parts[0] == flow_name:
            run_id = parts[1]
        else:
            raise DriverError(
                "bad_run",
                "run must be a run id ('1718') or a pathspec '%s/1718'; got %r." % (flow_name, run_arg),
            )
        try:
            run = mf.Run("%s/%s" % (flow_name, run_id), _namespace_check=False)
        except Exception:
            raise DriverError(
                "no_run",
                "No run %s/%s in this project. Call list_runs(flow=...) to see the runs."
                % (flow_name, run_id),
            )
        chosen = "given"
    else:
        run = None
        newest = None
        for candidate in _runs_newest_first(mf, flow_name, req.get("identity")):
            if newest is None:
                newest = candidate
            try:
                if candidate.successful:
                    run = candidate
                    break
            except Exception:
                continue
        if run is None:
            if newest is None:
                raise DriverError(
                    "no_runs",
                    "%s has no runs yet, so there is no parent state to spin %s with. "
                    "Call run(flow=...) once first; then spin reuses that run's artifacts."
                    % (flow_name, step),
                )
            # No success at all: a failed run can still hold the parent's artifacts.
            run = newest
            chosen = "latest (no successful run exists)"
            notes.append(
                "no successful run of %s exists; took state from the latest run %s"
                % (flow_name, run.pathspec)
            )
        else:
            chosen = "latest successful"
    try:
        step_obj = run[step]
    except KeyError:
        steps_in_run = [s.id for s in run]
        raise DriverError(
            "step_not_in_run",
            "Step %r did not run in %s (it ran: %s), so spin has no original task to re-run. "
            "Spin needs the step to have run once: call run(flow=...) to record it, "
            "or pick another run." % (step, run.pathspec, ", ".join(sorted(steps_in_run)) or "nothing"),
        )
    tasks = list(step_obj)
    if not tasks:
        raise DriverError("no_task", "Step %s has no tasks in %s." % (step, run.pathspec))
    split = None
    if task_arg is not None:
        tid = str(task_arg).split("/")[-1]
        match = [t for t in tasks if t.id == tid]
        if not match:
            ids = ", ".join(sorted(t.id for t in tasks)[:20])
            raise DriverError(
                "no_task",
                "No task %s in %s/%s; its tasks are: %s." % (tid, run.pathspec, step, ids),
            )
        task = match[0]
    elif len(tasks) > 1:
        # A foreach body: the first split by index, so repeated spins are reproducible.
        def index_of(t):
            try:
                return int(t.index if t.index is not None else 0)
            except Exception:
                return 1 << 30

        tasks.sort(key=lambda t: (index_of(t), int(t.id) if t.id.isdigit() else 0))
        task = tasks[0]
        notes.append(
            "%s has %d foreach splits; spun split index %s (task %s). Pass task= to pick another."
            % (step, len(tasks), index_of(task), task.id)
        )
    else:
        task = tasks[0]
    try:
        if task.index is not None:
            split = {"index": task.index, "splits": len(tasks)}
    except Exception:
        pass
    if req.get("step_type") == "join":
        _check_join_width(task)
    try:
        run_ok = run.successful
    except Exception:
        run_ok = False
    return {
        "run_pathspec": run.pathspec,
        "run_status": "succeeded" if run_ok else run_record(run)["status"],
        "run_chosen": chosen,
        "task_pathspec": task.pathspec,
        "split": split,
        "notes": notes,
    }


MAX_SPIN_JOIN_INPUTS = 4  # Metaflow 2.19's spin loses inputs of wider joins


def _check_join_width(task):
    """Metaflow 2.19 cannot spin a join of 5 or more inputs ("Data missing: Some input
    datastores are missing"): say so before launching instead of failing obscurely."""
    try:
        inputs = len(list(task.parent_tasks))
    except Exception:
        return
    if inputs > MAX_SPIN_JOIN_INPUTS:
        raise DriverError(
            "join_too_wide",
            "%s joins %d inputs, and Metaflow 2.19's spin cannot re-run a join of 5 or more inputs (a "
            "known bug: its input datastores go missing). Spin the steps before the join instead, or "
            "run(flow) to exercise it." % (task.pathspec, inputs),
        )


def validate_artifacts_module(path):
    """Metaflow 2.19 reports a broken artifacts module as `NameError: MetaflowInternalError`:
    import it here first and say what is actually wrong."""
    name = "_flowmcp_artifacts_check"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as ex:
        raise DriverError(
            "bad_artifacts_module",
            "artifacts_module %s raised on import: %s: %s" % (os.path.basename(path), type(ex).__name__, ex),
            exception=capture().exception_record(ex),
        )
    finally:
        sys.modules.pop(name, None)
    artifacts_ = getattr(module, "ARTIFACTS", None)
    if artifacts_ is None:
        raise DriverError(
            "bad_artifacts_module",
            "artifacts_module %s defines no ARTIFACTS; add ARTIFACTS = {\"name\": value, ...}."
            % os.path.basename(path),
        )
    if not isinstance(artifacts_, dict) or not all(isinstance(k, str) for k in artifacts_):
        raise DriverError(
            "bad_artifacts_module",
            "ARTIFACTS in %s must be a dict with artifact names as keys; it is a %s."
            % (os.path.basename(path), type(artifacts_).__name__),
        )
    return sorted(artifacts_)


def op_spin(req):
    flow_name = req["flow_name"]
    overridden = None
    if req.get("artifacts_module"):
        overridden = validate_artifacts_module(req["artifacts_module"])
    source = resolve_source(req)
    if overridden and req.get("step_type") == "join":
        # A join's overrides are keyed by input pathspec; Metaflow ignores flat names there (the
        # tool says so), so only the keyed ones override anything.
        overridden = [name for name in overridden if "/" in name]
    if overridden:
        source["notes"].append("inputs overridden: " + ", ".join(overridden))
    argv = ["--quiet", "--no-pylint"]
    if req.get("environment"):
        argv += ["--environment", req["environment"]]
    argv += ["spin", source["task_pathspec"], "--run-id-file", req["run_id_file"]]
    argv.append("--persist" if req.get("persist") else "--no-persist")
    if req.get("artifacts_module"):
        argv += ["--artifacts-module", req["artifacts_module"]]
    started = time.time()
    try:
        code, caught = run_cli(req["flow_file"], argv)
    finally:
        repair_latest_run(flow_name)
    elapsed = time.time() - started
    spin_run_id = _read_text(req["run_id_file"])
    out = {
        "source": source,
        "exit_code": code,
        "cli_error": caught or None,
        "elapsed_s": round(elapsed, 3),
        "spin_run_id": spin_run_id,
    }
    if spin_run_id:
        out["task"] = read_spin_task(req, flow_name, spin_run_id, req["step"])
    return out


def repair_latest_run(flow_name):
    """Point `latest_run` back at a real run when a spin left its own id there.

    Spin writes its id to latest_run (even when it fails), which breaks a later `resume`. Saving
    and restoring the file would race with a run or another spin started meanwhile; instead,
    whenever the file names a spin, it gets the newest real run's id (run ids are start times),
    or is removed when there is none. A real run's id is never touched."""
    path = _latest_run_file(flow_name)
    current = _read_text(path) if path else None
    if not current or current not in set(_spin_run_ids(flow_name)):
        return
    real = _sorted_run_ids(flow_name)
    if not real:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    tmp = "%s.flowmcp-%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(real[0])
    os.replace(tmp, path)


def spin_metadata_root():
    root = os.environ.get("METAFLOW_DATASTORE_SYSROOT_SPIN")
    if root:
        return os.path.dirname(root.rstrip("/"))
    return os.getcwd()


def spin_task(pathspec):
    from metaflow import Task

    return Task(pathspec, _namespace_check=False, _current_metadata="spin@" + spin_metadata_root())


def read_spin_task(req, flow_name, run_id, step):
    pathspec = "%s/%s/%s/0" % (flow_name, run_id, step)
    out = {"pathspec": pathspec}
    try:
        task = spin_task(pathspec)
    except Exception as ex:
        out["status"] = "failed"
        out["read_error"] = "%s: %s" % (type(ex).__name__, ex)
        return out
    meta = _meta(task)
    out["status"] = task_status(task, meta)
    out["stdout"] = _bounded_log(task, "stdout")
    out["stderr"] = _bounded_log(task, "stderr")
    return out


# --------------------------------------------------------------------------- inspect


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
            raise DriverError(
                "bad_path",
                "Cannot parse path %r at character %d (%r). Use ['key'], [0] and .attr, e.g. "
                "[\"weights\"][0] or .coef_" % (path, pos, path[pos : pos + 10]),
            )
        if m.group("int") is not None:
            steps.append(("index", int(m.group("int"))))
        elif m.group("q") is not None:
            steps.append(("key", m.group("key").encode().decode("unicode_escape")))
        else:
            steps.append(("attr", m.group("attr")))
        pos = m.end()
    return steps


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
                    raise DriverError("bad_path", "Dunder attributes are not inspected: %r" % v)
                value = getattr(value, v)
            elif kind == "index" and hasattr(value, "iloc") and not hasattr(value, "columns"):
                value = value.iloc[v]  # a Series: [0] means the first row, not the label 0
            else:
                value = value[v]
        except DriverError:
            raise
        except Exception as ex:
            raise DriverError("bad_path", _path_stopped(value, steps, i, ex))
    return value


def _path_stopped(value, steps, i, ex):
    import difflib

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


def _open_task(mf, pathspec, spin_meta):
    parts = pathspec.strip("/").split("/")
    if spin_meta:
        if len(parts) == 3:
            parts.append("0")
        return spin_task("/".join(parts))
    if len(parts) == 4:
        return mf.Task("/".join(parts), _namespace_check=False)
    step = mf.Step("/".join(parts), _namespace_check=False)
    tasks = list(step)
    if len(tasks) != 1:
        ids = ", ".join(t.id for t in tasks[:20])
        raise DriverError(
            "ambiguous_step",
            "%s has %d tasks (a foreach); name one: %s/<task> with task in %s."
            % (pathspec, len(tasks), pathspec, ids),
        )
    return tasks[0]


SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".metaflow", ".metaflow_spin", ".flowmcp"}


def load_artifact(task, name):
    """Unpickle one artifact; classes from the flow file or the user's modules are made findable.

    A class defined in the flow file is pickled as `__main__.Box`, and `import shapes` works only
    from the flow's folder: on such a failure, load the flow's module namespace into `__main__`,
    put its folder on sys.path, and try once more."""
    try:
        return task[name].data
    except (AttributeError, ImportError) as first:
        script = _meta(task).get("script-name")
        flow_file = _find_file(script) if script else None
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


def _find_file(filename, max_dirs=2000):
    """The first `filename` under the project root (the driver's working directory)."""
    for seen, (folder, dirs, files) in enumerate(os.walk(os.getcwd())):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if filename in files:
            return os.path.join(folder, filename)
        if seen >= max_dirs:
            break
    return None


def op_inspect(req):
    import difflib

    mf = _client_setup(req)
    pathspec = req["pathspec"]
    spin = bool(req.get("spin"))
    try:
        task = _open_task(mf, pathspec, spin)
        names = sorted(a.id for a in task.artifacts)
    except DriverError:
        raise
    except Exception as ex:
        raise DriverError(
            "not_found",
            "No task at %s (%s). Pathspecs look like Flow/run/step[/task]; list_runs shows runs."
            % (pathspec, type(ex).__name__),
        )
    public = [n for n in names if not n.startswith("_") and n != "name"]  # `name` is Metaflow's own
    name = req["name"]
    if name not in names:
        close = difflib.get_close_matches(name, public, n=3, cutoff=0.5)
        msg = "No artifact %r in %s." % (name, task.pathspec)
        if close:
            msg += " Did you mean %s?" % " or ".join(repr(c) for c in close)
        if public:
            msg += " Available: %s." % ", ".join(public[:40]) + (" …" if len(public) > 40 else "")
        elif spin:
            msg += " This spin stored no artifacts: spin with persist=True to keep them."
        raise DriverError("no_artifact", msg, close=close, available=public[:200])
    value = load_artifact(task, name)
    steps = parse_path(req["path"]) if req.get("path") else []
    value = walk_path(value, steps)
    summary = artifacts().summarize(value, max_chars=int(req.get("max_chars") or 1500))
    summary["pathspec"] = task.pathspec
    summary["name"] = name
    summary["path"] = _render_path(steps) if steps else None
    return summary


MAX_LOG_LINES = 200
MAX_LOG_CHARS = 20000
MAX_RESOURCE_CHARS = 5_000_000  # resources are fetched on purpose, but still not without bound


def op_logs(req):
    """A task's log, cleaned (prefixes, ANSI, progress bars, repeats) and cut here, in the
    project's process: a 100 MB log never travels to the server."""
    mf = _client_setup(req)
    task = _open_task(mf, req["pathspec"], bool(req.get("spin")))
    stream = req.get("stream", "stdout")
    try:
        text = getattr(task, stream) or ""
    except Exception as ex:
        raise DriverError("no_logs", "No %s log for %s (%s)." % (stream, task.pathspec, type(ex).__name__))
    logs = log_tools()
    lines = logs.fold_repeats(logs.clean_lines(text))
    total = len(lines)
    pattern = req.get("pattern")
    if pattern:
        try:
            matcher = re.compile(pattern)
            lines = ["%d: %s" % (i + 1, line) for i, line in enumerate(lines) if matcher.search(line)]
        except re.error:
            lines = ["%d: %s" % (i + 1, line) for i, line in enumerate(lines) if pattern in line]
    if req.get("full"):  # the logs resource: the whole cleaned log, up to a generous bound
        return {"pathspec": task.pathspec, "stream": stream, "total_lines": total, "matched": len(lines),
                "text": logs.cut_middle("\n".join(lines), MAX_RESOURCE_CHARS)}
    head, tail = req.get("head"), req.get("tail")
    if head is None and tail is None:
        tail = 50
    shown = logs.head_tail(lines, min(head or 0, MAX_LOG_LINES), min(tail or 0, MAX_LOG_LINES))
    body = logs.cut_middle("\n".join(shown), MAX_LOG_CHARS)
    return {"pathspec": task.pathspec, "stream": stream, "total_lines": total, "matched": len(lines),
            "text": body}


def _card_files(task, spin):
    """[(type, id, hash, html reader)] for a task's cards: spins' from their local folder,
    runs' through Metaflow's card client (any datastore)."""
    if spin:
        flow, run_id, step, task_id = task.pathspec.split("/")
        folder = os.path.join(spin_metadata_root(), ".metaflow_spin", "mf.cards", flow, "runs", run_id, "steps",
                              step, "tasks", task_id, "cards")
        names = sorted(n for n in os.listdir(folder) if n.endswith(".html")) if os.path.isdir(folder) else []
        return [(n.split("-")[0], None, n.rsplit("-", 1)[-1][:-5], _reader(os.path.join(folder, n))) for n in names]
    from metaflow.cards import get_cards

    try:
        found = get_cards(task)
    except Exception as ex:
        if type(ex).__name__ == "CardNotPresentException":  # Metaflow's way of saying "none"
            return []
        raise
    return [(c.type, c.id, c.hash, c.get) for c in found]


def _reader(path):
    def read():
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    return read


def op_artifact_value(req):
    """An artifact as JSON when it is JSON data of reasonable size, else its summary."""
    mf = _client_setup(req)
    task = _open_task(mf, req["pathspec"], bool(req.get("spin")))
    value = load_artifact(task, req["name"])
    try:
        text = json.dumps(value, indent=1)
        if len(text) <= MAX_RESOURCE_CHARS:
            return {"mime": "application/json", "text": text}
    except (TypeError, ValueError):
        pass
    return {"mime": "text/plain", "text": artifacts().describe(value)}


def op_cards(req):
    mf = _client_setup(req)
    task = _open_task(mf, req["pathspec"], bool(req.get("spin")))
    cards = _card_files(task, bool(req.get("spin")))
    index = req.get("index")
    if index is not None:
        if not 0 <= index < len(cards):
            raise DriverError("no_card", "%s has %d card(s); index %d does not exist." % (task.pathspec, len(cards),
                                                                                           index))
        return {"pathspec": task.pathspec, "html": cards[index][3]()}
    out = []
    for i, (kind, card_id, digest, read) in enumerate(cards):
        out.append({"index": i, "type": kind, "id": card_id, "hash": digest,
                    "summary": card_tools().describe(read())})
    return {"pathspec": task.pathspec, "cards": out}


# --------------------------------------------------------------------------- main

OPS = {
    "describe": op_describe,
    "runs": op_runs,
    "flows": op_flows,
    "run_detail": op_run_detail,
    "run": op_run,
    "spin": op_spin,
    "inspect": op_inspect,
    "logs": op_logs,
    "cards": op_cards,
    "artifact_value": op_artifact_value,
}


def handle(argv):
    """Do the job `argv` names (`driver.py REQUEST.json RESULT.json`) and write its result file."""
    request_path, result_path = argv[1], argv[2]
    with open(request_path) as f:
        req = json.load(f)
    try:
        data = OPS[req["op"]](req)
        result = {"ok": True, "data": data}
    except DriverError as ex:
        result = {"ok": False, "error": dict(kind=ex.kind, message=ex.message, **ex.extra)}
    except BaseException as ex:  # report, never die silently: the server shows this to the agent
        result = {
            "ok": False,
            "error": {
                "kind": "internal",
                "message": "%s: %s" % (type(ex).__name__, ex),
                "traceback": traceback.format_exc()[-4000:],
            },
        }
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, default=str)
    os.replace(tmp, result_path)


def main(argv):
    handle(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown (atexit hooks of user libraries); everything is written.
    os._exit(0)


def _bootstrap(argv, main_globals):
    # Run from a module of our own name: the flow executes in `__main__` and must not see
    # (or overwrite) the driver's functions there.
    spec = importlib.util.spec_from_file_location("_flowmcp_driver", os.path.abspath(__file__))
    driver = importlib.util.module_from_spec(spec)
    sys.modules["_flowmcp_driver"] = driver
    spec.loader.exec_module(driver)
    for name in [n for n in main_globals if not n.startswith("__")]:
        del main_globals[name]  # leave `__main__` as bare as `python flow.py` would find it
    driver.main(argv)


if __name__ == "__main__":
    _bootstrap(sys.argv, globals())
