"""Metaflow's CLI, run in this process as `python flow.py ...` would run it; and the RUN op.

In-process saves an interpreter start per job and lets us catch Metaflow's own errors (graph
problems, bad pathspecs, configs that do not parse) as objects before they are printed.
"""

import errno
import os
import stat
import sys
import time

from .. import capture
from .. import metaflow_compat as compat
from ..protocol import BAD_PATH, JobError
from . import runs
from .memory import OomWatch

MAX_MESSAGE_CHARS = 20_000  # of a Metaflow error's message: the server condenses it


def run_cli(flow_file, argv, on_cli=None):
    """Run the flow's Metaflow CLI in this process; return (exit code, captured top-level error).

    Running in-process saves one interpreter start per call, and lets us catch Metaflow's own
    errors (graph problems, bad pathspecs) as objects before they are printed. `on_cli(module)`
    runs when the flow has imported Metaflow's CLI, before any command."""
    caught = {}

    def on_metaflow_exception(ex):
        caught["metaflow"] = {
            "type": type(ex).__name__,
            "headline": getattr(ex, "headline", ""),
            "message": capture.bounded_message(str(getattr(ex, "message", ex)), MAX_MESSAGE_CHARS),
            "file": getattr(ex, "source_file", None),
            "line": getattr(ex, "line_no", None),
        }

    def on_unknown_exception(ex):
        caught["exception"] = capture.exception_record(ex)

    def on_usage_error(ex):
        caught["metaflow"] = {"type": type(ex).__name__, "headline": "",
                              "message": capture.bounded_message(str(ex.format_message()), MAX_MESSAGE_CHARS),
                              "file": None, "line": None}

    def prepare(cli):
        compat.catch_cli_errors(cli, on_metaflow_exception, on_unknown_exception)
        if on_cli is not None:
            on_cli(cli)

    compat.defer_code_package()
    hook = compat.when_cli_imported(prepare)
    undo_usage = compat.catch_usage_errors(on_usage_error)
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
        caught["syntax"] = capture.exception_record(ex)
        code = 1
    except BaseException as ex:
        caught["exception"] = capture.exception_record(ex)
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

    source = read_beneath_root(flow_file)
    code = compile(source, flow_file, "exec")
    __main__.__file__ = flow_file
    __main__.__dict__.pop("__cached__", None)
    compat.forget_cli()
    exec(code, __main__.__dict__)


def read_beneath_root(path):
    """The bytes of `path`, a file under the project root, opened one folder at a time from the
    root without following a link (`O_NOFOLLOW` at every step). The server checked the path; a
    link swapped in for the file or a folder since then must not make the job run what it points
    at. Outside a flowmcp job (no FLOWMCP_ROOT), a plain read."""
    root = os.environ.get("FLOWMCP_ROOT")
    relative = os.path.relpath(os.path.abspath(path), root) if root else None
    if not root or relative.startswith(os.pardir) or not hasattr(os, "O_NOFOLLOW"):
        with open(path, "rb") as f:
            return f.read()
    parts = relative.split(os.sep)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            try:
                next_fd = os.open(part, flags, dir_fd=fd)
            except OSError as ex:
                if ex.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise JobError(BAD_PATH, "%s is now a link (to %s): flowmcp runs only files inside the project "
                                   "root, and this one changed since it was checked. Put the flow file itself "
                                   "there." % (path, os.path.realpath(os.path.join(root, *parts[:i + 1]))))
                raise
            os.close(fd)
            fd = next_fd
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JobError(BAD_PATH, "%s is not a regular file; pass the flow's .py file." % path)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


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
    with OomWatch() as oom:
        code, caught = run_cli(flow_file, run_argv(req))
    elapsed = time.time() - started
    run_id = read_text(req["run_id_file"])
    result = {"exit_code": code, "cli_error": caught or None, "elapsed_s": round(elapsed, 3), **oom.result()}
    if run_id:
        compat.any_namespace()
        try:
            run = compat.run("%s/%s" % (req["flow_name"], run_id))
            result["run"] = runs.run_record(run, detail=True)
            # The ledger may not have the run's file yet (the server writes it when it reads the
            # run's name in the output, and a fast run can end first): this job knows it.
            result["run"]["file"] = result["run"].get("file") or os.path.relpath(
                os.path.abspath(flow_file), capture.project_root())
        except Exception as ex:
            result["run"] = None
            result["read_error"] = "%s: %s" % (type(ex).__name__, ex)
    return result

