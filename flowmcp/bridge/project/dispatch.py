"""One job in the project's interpreter: read the request, do its op, write the result.

`python bridge/driver.py REQUEST.json RESULT.json` (or a warm worker's fork of it) ends here. The
result file is the only channel the server parses; whatever the flow or Metaflow prints goes to
the job's output file.
"""

import importlib.util
import json
import os
import signal
import sys
import traceback

from .. import metaflow_compat as compat
from .. import protocol
from ..protocol import INTERNAL, JobError
from . import artifacts, cli, environment, flows, listing, logs_cards, spin, tree

USES_FEATURES = {protocol.DESCRIBE, protocol.RUN, protocol.SPIN}  # the ops whose answers a missing internal changes
OPS = {
    protocol.DESCRIBE: flows.op_describe,
    protocol.RUNS: listing.op_runs,
    protocol.FLOWS: listing.op_flows,
    protocol.RUN_DETAIL: listing.op_run_detail,
    protocol.RUN: cli.op_run,
    protocol.SPIN: spin.op_spin,
    protocol.INSPECT: artifacts.op_inspect,
    protocol.LOGS: logs_cards.op_logs,
    protocol.CARDS: logs_cards.op_cards,
    protocol.ARTIFACT_VALUE: artifacts.op_artifact_value,
    protocol.ENVIRONMENT: environment.op_environment,
}


def handle(argv):
    """Do the job `argv` names (`driver.py REQUEST.json RESULT.json`) and write its result file."""
    request_path, result_path = argv[1], argv[2]
    with open(request_path) as f:
        req = json.load(f)
    try:
        check_metaflow(req["op"])
        result = {"ok": True, "data": OPS[req["op"]](req)}
    except JobError as ex:
        result = {"ok": False, "error": ex.as_error()}
    except BaseException as ex:  # report, never die silently: the server shows this to the agent
        result = {"ok": False, "error": {"kind": INTERNAL, "message": "%s: %s" % (type(ex).__name__, ex),
                                         "traceback": traceback.format_exc()[-4000:]}}
    try:
        result["degraded"] = compat.degraded(check_all=req.get("op") in USES_FEATURES)
    except Exception:
        pass
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, default=str)
    os.replace(tmp, result_path)


def main(argv):
    """A job in a new interpreter, the server's child (a warm worker's jobs: see
    `worker/server.py` `stop_jobs`)."""
    tree.hold()
    die_with_parent()
    handle(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown (atexit hooks of user libraries); everything is written.
    os._exit(0)


def check_metaflow(op):
    """No Metaflow in this interpreter, or one flowmcp does not support, is said as such (the
    server words the fix), not as whatever the op would trip over. The version is read for the
    ops that load a flow, which import Metaflow anyway; the others only need it to be there.
    ENVIRONMENT reports all of this itself, as facts."""
    if op == protocol.ENVIRONMENT:
        return
    if "metaflow" not in sys.modules and importlib.util.find_spec("metaflow") is None:
        raise JobError(protocol.NO_METAFLOW, "no Metaflow", python=sys.executable)
    if op in protocol.LOADS_FLOW or op == protocol.RUN:
        import metaflow

        version = getattr(metaflow, "__version__", None)
        if version is not None and not protocol.metaflow_supported(version):
            raise JobError(protocol.METAFLOW_VERSION, "Metaflow %s" % version, python=sys.executable,
                           version=version, where=os.path.dirname(getattr(metaflow, "__file__", "") or ""))


def die_with_parent():
    """When the server that started this job dies (SIGTERM, SIGKILL, an OOM kill), the job stops
    every process of its run (`tree.stop`: its group and whatever left it), as a cancel would
    have; else a run would go on with nobody to read it. Linux only (prctl PR_SET_PDEATHSIG);
    elsewhere a job outlives a killed server, as before. A job is its group's leader (a session
    of its own)."""
    if not sys.platform.startswith("linux") or os.getpgrp() != os.getpid():
        return
    signal.signal(tree.PARENT_GONE, tree.stop_all_and_die)  # also where `tree.hold` could not (no subreaper)
    if not tree.prctl(tree.PR_SET_PDEATHSIG, tree.PARENT_GONE):
        return
    if os.getppid() == 1:  # the parent died before we asked: too late for the signal
        tree.stop_all_and_die()
