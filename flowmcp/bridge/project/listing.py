"""RUNS, FLOWS and RUN_DETAIL: a flow's runs newest first (those of one file, when two files
define the flow), each flow file's latest run, and one run in detail; and which file a run came
from (flowmcp's ledger, else the script Metaflow recorded, else the steps it ran)."""

import os

from .. import metaflow_compat as compat
from ..protocol import NO_RUN, JobError
from .runs import flow_run_ids, ledger_entry, run_record, run_sort_key, spin_record, task_meta

STATUS_SCAN_LIMIT = 5000  # runs examined at most when filtering list_runs by status


def op_runs(req):
    compat.any_namespace()
    flow_name = req["flow_name"]
    status = req.get("status", "any")
    limit = int(req.get("limit", 10))
    cursor = req.get("cursor")
    identity = req.get("identity")
    run_ids = flow_run_ids(flow_name)
    spin_ids = set()
    if req.get("include_spins"):
        spin_ids = set(compat.spin_run_ids(flow_name))
        run_ids = sorted(set(run_ids) | spin_ids, key=run_sort_key, reverse=True)
    total = len(run_ids) if identity is None else None  # counting another file's runs out means reading them all
    if cursor:
        run_ids = [r for r in run_ids if run_sort_key(r) < run_sort_key(cursor)]
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
                run = compat.run("%s/%s" % (flow_name, rid))
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
        if any(run_sort_key(r) < run_sort_key(last) for r in run_ids):
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
        # Every task records the script; any step will do (the entry step need not be `start`:
        # Metaflow 2.19.23 added @step(start=True) and single-step flows)
        script = task_meta(next(iter(run)).task).get("script-name")
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




def op_flows(req):
    """Flows in the root with their latest run (list_runs without a flow)."""
    compat.any_namespace()
    out = []
    for fd in req["flow_files"]:
        entry = {"file": fd["file"], "flow_name": fd.get("flow_name")}
        name = fd.get("flow_name")
        identity = fd.get("identity")
        if name:
            ids = flow_run_ids(name)
            runs = runs_of(name, ids, identity)
            entry["runs"] = len(ids) if identity is None else sum(1 for _ in runs_of(name, ids, identity))
            latest = next(runs, None)
            if latest is not None:
                try:
                    entry["latest_run"] = run_record(latest)
                except Exception:
                    entry["latest_run"] = None
        out.append(entry)
    return {"flows": out}


def runs_of(flow_name, run_ids, identity):
    """The runs among `run_ids` (newest first) that came from the identity's file."""
    for rid in run_ids:
        try:
            run = compat.run("%s/%s" % (flow_name, rid))
        except Exception:
            continue
        if identity is None or run_file(run, identity) == identity["file"]:
            yield run


def op_run_detail(req):
    compat.any_namespace()
    try:
        run = compat.run(req["pathspec"])
    except Exception as ex:
        if type(ex).__name__ != "MetaflowNotFound":
            raise
        raise JobError(NO_RUN, "No run %s in this project. list_runs(flow) shows the runs." % req["pathspec"])
    return run_record(run, detail=True)


def runs_newest_first(flow_name, identity=None):
    return runs_of(flow_name, flow_run_ids(flow_name), identity)
