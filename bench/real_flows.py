"""Real flows through flowmcp and through the plain Metaflow CLI: every difference, by one command.

For folders of Metaflow flows nobody on the team wrote (Metaflow's own test flows, its tutorials, a
user's project), each flow file is found as Python would run it (a module that defines a FlowSpec
subclass with steps, maybe through a base class from a sibling module, and calls it), and its folder
is copied twice so the two sides never share `.metaflow/` state; inside a git repository, the whole
work tree is copied with its git state, so that Metaflow and the flow read the same commit, branch
and uncommitted changes as in the original. The flowmcp side runs the flow through one stdio MCP
session (`run`, then `spin(run=..., persist=True)` of every step, a foreach step's split left to
flowmcp's own choice); the CLI side runs `python flow.py run`, then `spin FLOW/RUN/STEP/TASK
--persist` of every step, a foreach step's task being the split flowmcp spun (the same index at
every level), so that both spins start from the same split's inputs. Both sides are then read
through Metaflow's Client, in a subprocess of the flows' interpreter, and compared: run and spin
outcomes, each step's artifact names and types (of its first split), the persisted spins' artifact
names and types, the artifacts flowmcp says a spun step set against what the CLI's persisted spin
holds that differs (by content hash) from the step's inputs, and flowmcp's word on the split it
chose: the split it names, "the first", and the split it says Metaflow's own `spin STEP` would
take (Metaflow's `get_latest_task_pathspec`, read in flowmcp's copy), each against the Client.

    python bench/real_flows.py DIR [DIR ...] [--python PATH] [--no-warm] [--only NAME_SUBSTRING]...
                               [--json OUT.json] [--timeout S] [--keep-temp]

Prints a markdown table (one row per flow's run, then one per step with the split spun, by index
and value at every level, and its spin's outcome) and "N flows, M steps, K differences". A run or
spin failing on both sides is the same (a flow that needs a parameter); hitting --timeout on either
side is always a difference. Exits 1 when there is any difference, 0 when none, 2 when there is
nothing to check (no flow file, no such DIR, or an interpreter without Metaflow).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TextIO

import anyio
from benchenv import metaflow_env
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import REQUEST_TIMEOUT

from flowmcp.state.catalog import FlowFinder
from flowmcp.state.layout import STATE_DIR

DEFAULT_TIMEOUT_S = 300.0  # per subprocess and per MCP call; a step of a real flow rarely needs more
SKIPPED_DIR_NAMES = {"__pycache__", "site-packages", "node_modules"}  # hidden folders are skipped too
CLI_FLAGS = ["--quiet", "--no-pylint"]  # pylint alone takes seconds per command
SMALL_ARTIFACT_BYTES = 10 * 1024 * 1024  # larger artifacts are not loaded to learn their type
MAX_ANSWER_CHARS = 600  # flowmcp answer text and CLI output kept in the JSON report
MAX_NOTE_CHARS = 240  # one table cell
KILL_GRACE_S = 10  # to collect output after killing a process group at its deadline
GIT_TIMEOUT_S = 60  # one git command on a copied repository

OK, FAILED, TIMEOUT, NO_RUN, ERROR = "succeeded", "failed", "timeout", "not started", "error"

# Reads a run or persisted spins through Metaflow's Client. It runs in a subprocess of the flows'
# interpreter with the flow folder as working directory, because the Client finds `.metaflow`
# from there and the flow's own modules may be needed to unpickle artifacts. Kept to Python 3.8
# syntax: that interpreter is the project's, not ours. Request on stdin, JSON answer on stdout.
CLIENT_HELPER = r'''
import hashlib, json, pickle, sys
answer_stream, sys.stdout = sys.stdout, sys.stderr  # whatever unpickling prints stays out of the answer
from metaflow import Metaflow, Run, Step, Task, namespace

namespace(None)
request = json.load(sys.stdin)
SMALL = request["small_bytes"]
PICKLE_PROTOCOL = 4  # Metaflow's PickleSerializer (and its plain pickling before serializers)


def is_internal(name):
    return name.startswith("_") or name == "name"


def type_name(artifact):
    size = artifact._object.get("size")
    if size is None:
        try:
            size = artifact.size  # read from the datastore's metadata, without loading the value
        except Exception:
            size = None
    if size is not None and size > SMALL:
        return "<not loaded: %d bytes>" % size
    try:
        return type(artifact.data).__name__
    except Exception as ex:
        return "<unloadable: %s>" % type(ex).__name__


def artifacts(task):
    return {a.id: [type_name(a), a.sha] for a in task if not is_internal(a.id)}


def shas(pathspec):
    return {a.id: a.sha for a in Task(pathspec, _namespace_check=False) if not is_internal(a.id)}


def split_path(task):
    # Each foreach level's [index, value], outermost first ([] outside a foreach): Metaflow's own
    # record of the split, the value as its text of it (cut at 30 characters)
    try:
        frames = task["_foreach_stack"].data
    except Exception:
        return []
    return [[frame.index, frame.value] for frame in frames]


def first_split(tasks, paths):
    # The first split: every foreach index 0 (nested foreach included), then the lowest task id.
    return min(tasks, key=lambda t: ([level[0] for level in paths[t.id]], len(t.id), t.id))


def cli_default(flow, run_id, step_name):
    # The task Metaflow's own `spin FLOW/RUN/STEP` (and `spin STEP` on the latest run) re-runs:
    # the function its SpinRuntime calls
    try:
        from metaflow.util import get_latest_task_pathspec
        return get_latest_task_pathspec(flow, step_name, run_id=run_id).id
    except Exception:
        return None


def flatten(block):
    for item in block:
        if isinstance(item, list):
            for name in flatten(item):
                yield name
        else:
            yield item


def ordered_steps(run):
    steps = {s.id: s for s in run}
    order = []
    try:
        graph = next(iter(steps.values())).task["_graph_info"].data
        order = [name for name in flatten(graph["graph_structure"]) if name in steps]
    except Exception:
        pass  # fall back on creation time, which follows the graph in a local run
    rest = sorted((s for name, s in steps.items() if name not in order), key=lambda s: s.created_at)
    seen = set()
    return [steps[n] for n in order if not (n in seen or seen.add(n))] + rest


def parents(pathspec):
    task = Task(pathspec, _namespace_check=False)
    flow, run_id = pathspec.split("/")[:2]
    pathspecs = list(task.parent_task_pathspecs)
    if not pathspecs:  # start: its inputs are the run's parameters
        try:
            pathspecs = [t.pathspec for t in Step("%s/%s/_parameters" % (flow, run_id), _namespace_check=False)]
        except Exception:
            pathspecs = []
    return {p: shas(p) for p in pathspecs}


def find_flow(run_id):
    for flow in Metaflow():
        try:
            Run("%s/%s" % (flow.id, run_id), _namespace_check=False)
            return flow.id
        except Exception:
            continue
    raise LookupError("no flow in this folder's .metaflow has a run %s" % run_id)


def git_info(run):
    # What Metaflow recorded of the flow's repository: its remote, branch, commit, uncommitted changes.
    try:
        return next(iter(next(iter(run)))).metadata_dict.get("git-info")
    except Exception:
        return None


def describe_run(flow, run_id):
    flow = flow or find_flow(run_id)
    run = Run("%s/%s" % (flow, run_id), _namespace_check=False)
    steps = []
    for step in ordered_steps(run):
        entry = {"step": step.id}
        try:
            tasks = list(step)
            paths = {t.id: split_path(t) for t in tasks}
            task = first_split(tasks, paths)
            entry["task"] = task.id
            entry["artifacts"] = artifacts(task)
            entry["splits"] = paths
            entry["cli_default"] = cli_default(flow, run_id, step.id) if len(tasks) > 1 else task.id
        except Exception as ex:
            entry["error"] = "%s: %s" % (type(ex).__name__, ex)
        steps.append(entry)
    try:
        parameters = sorted(a.id for a in Step("%s/%s/_parameters" % (flow, run_id), _namespace_check=False).task
                            if not is_internal(a.id))
    except Exception:
        parameters = []
    for entry in steps:
        entry["parameters"] = parameters
    return {"flow": flow, "run_id": run_id, "successful": run.successful, "steps": steps, "git_info": git_info(run)}


def pickled(artifact):
    if (artifact.size or 0) > SMALL:
        return None
    return pickle.dumps(artifact.data, protocol=PICKLE_PROTOCOL)


def same_values(parent, spun, names):
    # Names whose value the step did not change although its key did: an input the step only read
    # is saved again, and a pickle that is not byte-stable (fitted estimators; sets, whose order
    # follows the process's hash seed) gets a new key. Both values pickled here, in one process,
    # are the same bytes when they are the same value.
    same = []
    task = Task(parent, _namespace_check=False)
    for name in names:
        try:
            before = pickled(task[name])
            if before is not None and before == pickled(spun[name]):
                same.append(name)
        except Exception:
            continue  # a class of the flow's own that does not load here: taken as changed
    return same


def describe_spin(pathspec, spin_root, source):
    # `source`: the original task the spin re-ran, whose parents' artifacts were its inputs
    try:
        task = Task(pathspec, _namespace_check=False, _current_metadata="spin@" + spin_root)
        found = {"artifacts": artifacts(task), "parents": parents(source)}
    except Exception as ex:
        return {"error": "%s: %s" % (type(ex).__name__, ex)}
    found["resaved"] = []
    if len(found["parents"]) == 1:  # a join holds none of its inputs: there is nothing to re-save
        [(parent, shas)] = found["parents"].items()
        saved = found["artifacts"]
        differing = [name for name in saved if name in shas and shas[name] != saved[name][1]]
        found["resaved"] = same_values(parent, task, differing)
    return found


if "run_id" in request:
    answer = describe_run(request.get("flow"), request["run_id"])
else:
    answer = {p: describe_spin(p, request["spin_root"], source) for p, source in request["spins"].items()}
answer_stream.write(json.dumps(answer))
'''


# ---- what each side recorded -------------------------------------------------------------------

@dataclass
class Outcome:
    """One run or spin on one side."""

    status: str  # OK, FAILED, TIMEOUT, NO_RUN or ERROR
    headline: str = ""  # why it failed, in one line
    text: str = ""  # flowmcp's answer text, or the tail of the CLI's output
    exit_code: int | None = None  # the CLI's; None for flowmcp and at a deadline

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass
class StepRecord:
    step: str
    task: str | None = None  # the step's first foreach split (every index 0), whose artifacts are compared
    run_artifacts: dict[str, list[str]] | None = None  # name -> [type, sha]
    splits: dict[str, list] = field(default_factory=dict)  # task id -> [[index, value], ...], outermost first
    cli_default: str | None = None  # the task Metaflow's own `spin STEP` re-runs
    parameters: set[str] = field(default_factory=set)  # the run's Parameters and Configs
    error: str | None = None  # why the Client could not read the step
    spun_task: str | None = None  # the original task the spin re-ran (flowmcp: the one it says it chose)
    spin: Outcome | None = None
    spin_pathspec: str | None = None
    spin_artifacts: dict[str, list[str]] | None = None
    spin_parents: dict[str, dict[str, str]] | None = None  # the spun task's parents: pathspec -> name -> sha
    spin_error: str | None = None
    spin_resaved: set[str] = field(default_factory=set)  # new key, same value as the input (only read)
    listed: list[str] | None = None  # flowmcp only: SpinResult.artifacts names
    named_split: str | None = None  # flowmcp only: the split its answer names (`split 2, input='b'`)
    named_index: int | None = None  # flowmcp only: that split's index
    split_note: str | None = None  # flowmcp only: its note on which split it chose, and Metaflow's

    def path(self, task: str | None) -> list:
        return self.splits.get(task or "", [])


@dataclass
class SideResult:
    run: Outcome
    flow: str | None = None
    run_id: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)
    git_info: str | None = None  # Metaflow's `git-info` task metadata (JSON), None outside a repository
    note: str | None = None  # what went wrong reading or driving this side

    def read(self, described: dict) -> None:
        """Takes in what CLIENT_HELPER read of this side's run."""
        self.flow = self.flow or described["flow"]
        self.steps = {s["step"]: step_record(s) for s in described["steps"]}
        self.git_info = described.get("git_info")


@dataclass
class Row:
    flow_file: str
    step: str
    cli: str
    flowmcp: str
    same: bool
    notes: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)  # for the JSON report
    split: str = ""  # the foreach split both sides spun, by index and value at every level


# ---- processes ---------------------------------------------------------------------------------

@dataclass
class Finished:
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str


def run_process(args: list[str], cwd: Path, env: dict, timeout: float, stdin: str = "") -> Finished:
    """Runs a command in its own process group, which is killed whole at the deadline (a flow's
    step processes would otherwise outlive it and keep the pipes open)."""
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        return Finished(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        return Finished(None, out, err)
    except BaseException:  # Ctrl-C: its own session keeps the group from seeing it, so stop it here
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def query_client(python: str, folder: Path, env: dict, request: dict, timeout: float) -> dict:
    """Asks CLIENT_HELPER about a run or spins in `folder`; raises RuntimeError with its stderr."""
    request = dict(request, small_bytes=SMALL_ARTIFACT_BYTES)
    done = run_process([python, "-c", CLIENT_HELPER], folder, env, timeout, json.dumps(request))
    if done.returncode != 0:
        why = "timed out" if done.returncode is None else last_error_line(done.stderr)
        raise RuntimeError(f"Client read failed: {why}")
    return json.loads(done.stdout)


_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (\[[^\]]*\] )?")
# `KeyError: 'x'`, `Error: Bad values ...`, `metaflow.exception.MetaflowNotFound: ...`
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b|^([a-z_]\w*\.)+[A-Z]\w*: ")
_FAILURE_LINE = re.compile(r"failed|error|missing", re.IGNORECASE)
# "Step failure:" only names the step whose exception the task printed above it; "Internal error:"
# heads a MetaflowInternalError's own message (a transition error after a step fell back), a reason
_GENERIC_HEADERS = {"Step failure:"}


def clean_lines(output: str) -> list[str]:
    lines = (_LOG_PREFIX.sub("", line).strip() for line in output.splitlines())
    return [line for line in lines if line]


def last_error_line(output: str) -> str:
    """Why a command failed, in one line: the last Python exception line or Metaflow error block
    ("Kubernetes error:" over its message), else the last line saying something failed."""
    lines = clean_lines(output)
    reason = None
    for line, following in zip(lines, [*lines[1:], ""]):
        if _EXCEPTION_LINE.search(line):
            reason = line
        elif line.endswith(":") and line not in _GENERIC_HEADERS and following and not following.endswith(":"):
            reason = f"{line} {following}"
    if reason:
        return reason
    failures = [line for line in lines if _FAILURE_LINE.search(line)]
    return (failures or lines or ["(no output)"])[-1]


def tail(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def head(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# ---- finding flow files -----------------------------------------------------------------------

def is_skipped_dir(path: Path) -> bool:
    # A virtualenv is full of Metaflow's own FlowSpec sources; hidden folders hold .metaflow state.
    return path.name.startswith(".") or is_virtualenv(path)


def find_flow_files(top: Path) -> list[Path]:
    """The files `python FILE run` runs a flow from: each defines a FlowSpec subclass with steps
    (its own or a base's, from the same module or one its folder imports) and calls it."""
    flows = FlowFinder()
    found = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not is_skipped_dir(Path(folder) / d))
        found += [Path(folder) / name for name in sorted(files)
                  if name.endswith(".py") and flows.starts_a_flow(Path(folder) / name)]
    return found


# ---- copying a flow's folder -------------------------------------------------------------------

def is_run_state(path: Path) -> bool:
    """Earlier runs' and spins' state (.metaflow, .metaflow_spin, flowmcp's own), never copied."""
    return path.name.startswith(".metaflow") or path.name == STATE_DIR


def copy_folder(source: Path, target: Path) -> Path:
    """The flow's folder with its helper modules and config files, without earlier runs' state.

    In a git repository the whole work tree is copied with a git directory of its own, and the
    flow's folder is found at the same place in it: Metaflow records each run's commit, branch and
    whether the tree had uncommitted changes (`git diff-index HEAD` from the flow's folder), and a
    Config parser may read git itself; in the copy, both read what they read in the original."""
    source = source.resolve()
    top = git_top(source)
    if top is None:
        destination = target / source.name
        shutil.copytree(source, destination, symlinks=True,
                        ignore=ignoring(lambda p: (p.is_dir() and is_skipped_dir(p)) or is_run_state(p)))
        return destination
    destination = target / top.name
    # a tracked hidden folder (.github) left out would be a deleted file to git: only state and
    # virtualenvs (untracked) stay behind
    shutil.copytree(top, destination, symlinks=True, ignore=ignoring(
        lambda p: p.name == ".git" or is_run_state(p) or (p.is_dir() and is_virtualenv(p))))
    copy_git_dir(top, destination / ".git")
    # git compares a file's stat data before its content, and every copy has a new inode and
    # ctime: refreshed, the index holds the copies' stat data and the copy is as clean as the original
    git(destination, "update-index", "-q", "--refresh", check=False)
    return destination / source.relative_to(top)


def is_virtualenv(path: Path) -> bool:
    return path.name in SKIPPED_DIR_NAMES or (path / "pyvenv.cfg").exists()


def ignoring(left_out):
    """A copytree `ignore` from a test on each path."""
    return lambda folder, names: {name for name in names if left_out(Path(folder) / name)}


def git(folder: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {folder}: {done.stderr.strip()}")
    return done.stdout.strip()


def git_top(folder: Path) -> Path | None:
    """The work tree `folder` is in, if it is in one (and git is installed)."""
    try:
        top = git(folder, "rev-parse", "--show-toplevel", check=False)
    except OSError:
        return None
    return Path(top).resolve() if top else None


def copy_git_dir(top: Path, target: Path) -> None:
    """`top`'s git directory as a directory of the copy's own. The `.git` of a linked worktree or of
    a submodule is a file naming a directory shared with other work trees: the shared part
    (objects, refs, config) and the worktree's own (HEAD, index) are put together, so that git in
    the copy never writes into the original's state. Objects are hard-linked where the file system
    allows it: git never changes an object file once written."""
    git_dir = Path(git(top, "rev-parse", "--absolute-git-dir"))
    common = (top / git(top, "rev-parse", "--git-common-dir")).resolve()
    objects = common / "objects"

    def link_or_copy(src: str, dst: str) -> None:
        if Path(src).is_relative_to(objects):
            try:
                os.link(src, dst)
                return
            except OSError:
                pass  # another file system: copied
        shutil.copy2(src, dst)

    linked = git_dir != common
    shutil.copytree(common, target, symlinks=True, copy_function=link_or_copy,
                    ignore=ignoring(lambda p: linked and p == common / "worktrees"))
    if linked:
        shutil.copytree(git_dir, target, dirs_exist_ok=True, symlinks=True,
                        ignore=ignoring(lambda p: p.parent == git_dir and p.name in ("commondir", "gitdir")))
        git(target.parent, "config", "core.bare", "false")  # a worktree of a bare repository
        git(target.parent, "config", "--unset", "core.worktree", check=False)  # a submodule's


def base_env() -> dict:
    return metaflow_env()


# ---- the CLI side ------------------------------------------------------------------------------

def cli_side(python: str, folder: Path, flow_file: str, work: Path, timeout: float,
             splits: dict[str, list[int]] | None = None) -> SideResult:
    """The plain CLI's run and persisted spins; a foreach step's spin re-runs the split `splits`
    names for it by index at every level (the one flowmcp spun), else its first split."""
    env = dict(base_env(), METAFLOW_CLIENT_CACHE_PATH=str(work / "cli-client-cache"))
    run_id_file = work / "cli-run-id"
    done = run_process([python, flow_file, *CLI_FLAGS, "run", "--run-id-file", str(run_id_file)],
                       folder, env, timeout)
    run_id = run_id_file.read_text().strip() if run_id_file.exists() else None
    run = cli_outcome(done, has_id=bool(run_id))
    side = SideResult(run, run_id=run_id)
    if not run.ok:
        return side
    try:
        described = query_client(python, folder, env, {"run_id": run_id}, timeout)
    except RuntimeError as ex:
        side.note = str(ex)
        return side
    side.read(described)
    for record in side.steps.values():
        record.spun_task = task_of_split(record, (splits or {}).get(record.step))
        if record.spun_task is None:
            continue
        spin_id_file = work / f"cli-spin-id-{record.step}"
        source = f"{side.flow}/{run_id}/{record.step}/{record.spun_task}"
        done = run_process([python, flow_file, *CLI_FLAGS, "spin", source, "--persist",
                            "--run-id-file", str(spin_id_file)], folder, env, timeout)
        record.spin = cli_outcome(done, has_id=True)
        if spin_id_file.exists():
            record.spin_pathspec = f"{side.flow}/{spin_id_file.read_text().strip()}/{record.step}/0"
    read_spins(python, folder, env, side, timeout)
    return side


def cli_outcome(done: Finished, has_id: bool) -> Outcome:
    output, code = done.stdout + done.stderr, done.returncode
    if code is None:
        return Outcome(TIMEOUT, "no exit before the deadline", tail(output))
    if code != 0:
        return Outcome(FAILED, last_error_line(output), tail(output), code)
    if not has_id:  # e.g. a module of base classes: Metaflow ran nothing
        return Outcome(NO_RUN, "exit 0 but no run id written", tail(output), code)
    return Outcome(OK, "", tail(output), code)


def step_record(described: dict) -> StepRecord:
    return StepRecord(described["step"], task=described.get("task"), run_artifacts=described.get("artifacts"),
                      splits=described.get("splits") or {}, cli_default=described.get("cli_default"),
                      parameters=set(described.get("parameters") or []), error=described.get("error"))


def indices(path: list) -> list[int]:
    return [level[0] for level in path]


def task_of_split(record: StepRecord, wanted: list[int] | None) -> str | None:
    """The task of the split with these foreach indices (another run's split, matched by index at
    every level), else the step's first split."""
    if wanted is not None:
        for task, path in sorted(record.splits.items(), key=lambda item: (len(item[0]), item[0])):
            if indices(path) == wanted:
                return task
    return record.task


def read_spins(python: str, folder: Path, env: dict, side: SideResult, timeout: float) -> None:
    """Fills in the persisted spins' artifacts, all in one Client subprocess."""
    spun = {r.spin_pathspec: r for r in side.steps.values() if r.spin and r.spin.ok and r.spin_pathspec}
    if not spun:
        return
    try:
        request = {"spins": {p: f"{side.flow}/{side.run_id}/{r.step}/{r.spun_task}" for p, r in spun.items()},
                   "spin_root": str(folder)}
        answers = query_client(python, folder, env, request, timeout)
    except RuntimeError as ex:
        for record in spun.values():
            record.spin_error = str(ex)
        return
    for pathspec, record in spun.items():
        record.spin_artifacts = answers[pathspec].get("artifacts")
        record.spin_parents = answers[pathspec].get("parents")
        record.spin_error = answers[pathspec].get("error")
        record.spin_resaved = set(answers[pathspec].get("resaved") or [])


# ---- the flowmcp side --------------------------------------------------------------------------

def flowmcp_command() -> list[str]:
    """The `flowmcp` script next to this interpreter (a venv's), else on PATH, else the module."""
    beside = Path(sys.executable).with_name("flowmcp")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("flowmcp")
    return [found] if found else [sys.executable, "-m", "flowmcp"]


async def call(client: Client, tool: str, arguments: dict, timeout: float) -> tuple[Outcome, dict]:
    """One tool call with a deadline: the outcome and the structured answer ({} if none)."""
    try:
        result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
    except MCPError as ex:
        status = TIMEOUT if ex.code == REQUEST_TIMEOUT else ERROR
        return Outcome(status, f"{tool}: {ex}"), {}
    except Exception as ex:  # e.g. an answer that does not match the tool's output schema
        return Outcome(ERROR, f"{tool}: {type(ex).__name__}: {ex}"), {}
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    structured = result.structured_content or {}
    status = structured.get("status") or (ERROR if result.is_error else OK)
    headline = ""
    if status != OK:
        lines = ((structured.get("failure") or {}).get("summary") or text).strip().splitlines()
        headline = lines[0] if lines else "(no answer text)"
    return Outcome(status, headline, head(text)), structured


async def flowmcp_side(python: str, folder: Path, flow_file: str, work: Path, timeout: float, warm: bool,
                       server_log: TextIO) -> SideResult:
    """One stdio session of the real `flowmcp` command, serving a copy of the flow's folder."""
    command = [*flowmcp_command(), "--root", str(folder), "--python", python, *([] if warm else ["--no-warm"])]
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(folder), env=base_env())
    client_env = dict(base_env(), METAFLOW_CLIENT_CACHE_PATH=str(work / "flowmcp-client-cache"))
    side = None
    try:
        # read_timeout_seconds bounds the handshake too, so a server that never answers is caught
        async with Client(stdio_client(params, errlog=server_log), read_timeout_seconds=timeout) as client:
            side = await drive_flowmcp(client, python, folder, flow_file, client_env, timeout)
    except Exception as ex:  # the server died, never started or did not stop: a finding, with its stderr
        server_log.seek(0)
        why = f"MCP session: {type(ex).__name__}: {ex}; server stderr: {tail(server_log.read(), 300)}"
        if side is None:
            return SideResult(Outcome(ERROR, head(why, MAX_NOTE_CHARS), why), note=why)
        side.note = why
    return side


async def drive_flowmcp(client: Client, python: str, folder: Path, flow_file: str, env: dict,
                        timeout: float) -> SideResult:
    run, answer = await call(client, "run", {"flow": flow_file}, timeout)
    pathspec = answer.get("pathspec") or ""
    side = SideResult(run, flow=answer.get("flow"), run_id=pathspec.split("/")[1] if "/" in pathspec else None)
    if not run.ok or not side.run_id:
        return side
    try:
        described = await anyio.to_thread.run_sync(
            partial(query_client, python, folder, env, {"flow": side.flow, "run_id": side.run_id}, timeout))
    except RuntimeError as ex:
        side.note = str(ex)
        return side
    side.read(described)
    for record in side.steps.values():
        if record.task is None:
            continue
        # no task=: the split flowmcp chooses, and says it chose, is the one compared
        arguments = {"flow": flow_file, "step": record.step, "run": side.run_id, "persist": True}
        record.spin, answer = await call(client, "spin", arguments, timeout)
        record.spin_pathspec = answer.get("pathspec")
        record.listed = [a["name"] for a in answer.get("artifacts", [])] if answer else None
        record.spun_task = (answer.get("source_task") or "").rpartition("/")[2] or None
        record.named_split, record.named_index = answer.get("split"), answer.get("split_index")
        record.split_note = next((n for n in answer.get("notes") or [] if SPLIT_NOTE in n), None)
    await anyio.to_thread.run_sync(partial(read_spins, python, folder, env, side, timeout))
    return side


# ---- comparing ---------------------------------------------------------------------------------

def names_and_types(artifacts: dict[str, list[str]]) -> dict[str, str]:
    return {name: type_and_sha[0] for name, type_and_sha in artifacts.items()}


def artifact_differences(what: str, cli: dict | None, mcp: dict | None) -> list[str]:
    """Names and types only: values (and so hashes) may differ run to run (random data, clocks)."""
    if cli is None or mcp is None:
        return []
    cli, mcp = names_and_types(cli), names_and_types(mcp)
    notes = []
    if only := sorted(cli.keys() - mcp.keys()):
        notes.append(f"{what}: only CLI has {', '.join(only)}")
    if only := sorted(mcp.keys() - cli.keys()):
        notes.append(f"{what}: only flowmcp has {', '.join(only)}")
    notes += [f"{what}: {name} is {cli[name]} (CLI) vs {mcp[name]} (flowmcp)"
              for name in sorted(cli.keys() & mcp.keys()) if cli[name] != mcp[name]]
    return notes


def changed_by_spin(record: StepRecord) -> set[str] | None:
    """What the step set, as flowmcp is asked to list it: for a linear step, the persisted spin's
    artifacts whose content is not the parent's under that name (an input the step only read is
    saved again, and a pickle that is not byte-stable gets a new key: the input loaded and pickled
    again tells those apart); for a join, which starts holding nothing of its inputs, everything
    it holds (merged, taken from `inputs`, or new) except the run's Parameters and Configs, which
    every task holds."""
    if record.spin_artifacts is None or record.spin_parents is None:
        return None
    if len(record.spin_parents) > 1:
        parameters = set.intersection(*(set(shas) for shas in record.spin_parents.values())) & record.parameters
        return set(record.spin_artifacts) - parameters
    inputs = {(name, sha) for shas in record.spin_parents.values() for name, sha in shas.items()}
    changed = {name for name, (_, sha) in record.spin_artifacts.items() if (name, sha) not in inputs}
    return changed - record.spin_resaved


def listing_difference(listed: list[str], cli_changed: set[str], mcp_changed: set[str] | None,
                       cli_spin: dict[str, list[str]]) -> str:
    """The required sentence, plus what helps tell a listing bug from a spin that differs."""
    text = f"flowmcp listed {show(listed)}, CLI spin changed {show(cli_changed)}"
    if mcp_changed is not None and mcp_changed != cli_changed:
        text += f"; flowmcp's own spin changed {show(mcp_changed)}"
    # reassigned with a value equal to an input's: flowmcp tracks assignment, the hashes track content
    if same_content := sorted((set(listed) - cli_changed) & cli_spin.keys()):
        text += f"; listed with an input's content: {', '.join(same_content)}"
    return text


def show(names: set[str] | list[str] | None) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "nothing"


def outcome_differences(what: str, cli: Outcome, mcp: Outcome) -> list[str]:
    # A flow needing a parameter fails on both sides, maybe in different ways: that is the same.
    # A deadline hit on either side is always reported: a hang, or at least nothing compared.
    if TIMEOUT in (cli.status, mcp.status):
        return [f"{what} hit the --timeout deadline: a hang, or nothing compared"]
    return [] if cli.ok == mcp.ok else [f"{what} outcomes differ"]


SPLIT_NOTE = "foreach splits; spun "  # in flowmcp's note on the split it chose when none was asked for
# the note's "(Metaflow's own `spin STEP` would take split 1, input=7 (in x='a' [0])). Pass split= ..."
_CLI_CHOICE = re.compile(r"Metaflow's own `spin [^`]*` would take (split .*?)\)\. Pass split=")
_INNER_INDEX = re.compile(r"^split (\d+)")
_OUTER_INDEX = re.compile(r" \[(\d+)\](?=, |\)$)")  # `x='a' [0]` in a nested split's "(in ...)"


def label_indices(label: str | None) -> list[int] | None:
    """The foreach indices, outermost first, of a split as flowmcp names it: `split 2, input='b'`,
    nested `split 1, input=7 (in x='a' [0], y='b' [2])`."""
    inner = _INNER_INDEX.match(label or "")
    if not inner:
        return None
    return [int(i) for i in _OUTER_INDEX.findall(label)] + [int(inner.group(1))]


def split_text(record: StepRecord, task: str | None) -> str:
    """`0/1 ('a'/2) of 4`: a split's index and value at every level, of the step's tasks."""
    path = record.path(task)
    if not path:
        return ""
    values = "/".join(repr(value) if isinstance(value, str) and not value.isdigit() else str(value)
                      for _, value in path)
    return f"{'/'.join(str(i) for i in indices(path))} ({values}) of {len(record.splits)}"


def split_differences(cli: StepRecord, mcp: StepRecord) -> list[str]:
    """Where flowmcp's word on the foreach split it spun by default is not what it spun, or not
    the first split, or not what Metaflow's own spin takes; and where the CLI spun another split."""
    if mcp.spun_task is None:  # the spin stopped before choosing: the CLI spun its first split
        return []
    spun, first = mcp.path(mcp.spun_task), mcp.path(mcp.task)
    notes = []
    if cli.spun_task and indices(cli.path(cli.spun_task)) != indices(spun):
        notes.append(f"spun different splits: CLI {split_text(cli, cli.spun_task)}, "
                     f"flowmcp {split_text(mcp, mcp.spun_task)}")
    if not spun:
        return notes
    if indices(spun) != indices(first):
        notes.append(f"flowmcp spun split {split_text(mcp, mcp.spun_task)}, not the first, "
                     f"{split_text(mcp, mcp.task)}")
    named = label_indices(mcp.named_split)
    if named != indices(spun) or mcp.named_index != spun[-1][0]:
        notes.append(f"flowmcp names the split it spun {mcp.named_split!r} (index {mcp.named_index}); "
                     f"it spun {split_text(mcp, mcp.spun_task)}")
    if len(mcp.splits) > 1:
        theirs = mcp.path(mcp.cli_default)
        claimed = _CLI_CHOICE.search(mcp.split_note or "")
        if mcp.split_note is None:
            notes.append(f"flowmcp does not say which of {len(mcp.splits)} splits it chose")
        elif claimed and label_indices(claimed.group(1)) != indices(theirs):
            notes.append(f"flowmcp says Metaflow's own spin would take {claimed.group(1)!r}; "
                         f"it takes {split_text(mcp, mcp.cli_default)}")
        elif not claimed and theirs and indices(theirs) != indices(spun):
            notes.append(f"flowmcp does not say Metaflow's own spin would take another split: "
                         f"{split_text(mcp, mcp.cli_default)}")
    return notes


def compare_run(flow_file: str, cli: SideResult, mcp: SideResult) -> Row:
    differences = outcome_differences("run", cli.run, mcp.run)
    differences += [f"{name} side: {side.note}" for name, side in (("CLI", cli), ("flowmcp", mcp)) if side.note]
    if cli.run.ok and mcp.run.ok and cli.git_info != mcp.git_info:  # the same copy: Metaflow must read the same
        differences.append(f"git-info: {cli.git_info} (CLI) vs {mcp.git_info} (flowmcp)")
    why = [f"{name}: {o.headline}" for name, o in (("CLI", cli.run), ("flowmcp", mcp.run)) if not o.ok]
    evidence = {"cli": asdict(cli.run), "flowmcp": asdict(mcp.run), "cli_run_id": cli.run_id,
                "flowmcp_run_id": mcp.run_id, "flow": cli.flow or mcp.flow}
    if not differences:  # keep the long texts only where someone will read them
        evidence["cli"]["text"] = evidence["flowmcp"]["text"] = ""
    return Row(flow_file, "(run)", f"run {cli.run.status}", f"run {mcp.run.status}", not differences,
               differences + why, evidence)


def compare_step(flow_file: str, step: str, cli: StepRecord | None, mcp: StepRecord | None) -> Row:
    if cli is None or mcp is None:
        missing = "flowmcp's" if mcp is None else "the CLI's"
        return Row(flow_file, step, "" if cli is None else "in run", "" if mcp is None else "in run", False,
                   [f"step not in {missing} run"])
    sides = (("CLI", cli), ("flowmcp", mcp))
    differences = [f"{name} read: {record.error}" for name, record in sides if record.error]
    differences += split_differences(cli, mcp)
    differences += artifact_differences("run artifacts", cli.run_artifacts, mcp.run_artifacts)
    spins = [(name, record.spin or Outcome(ERROR, "not spun")) for name, record in sides]
    differences += outcome_differences("spin", spins[0][1], spins[1][1])
    differences += [f"{name} spin read: {record.spin_error}" for name, record in sides if record.spin_error]
    differences += artifact_differences("spin artifacts", cli.spin_artifacts, mcp.spin_artifacts)
    cli_changed, mcp_changed = changed_by_spin(cli), changed_by_spin(mcp)
    both_spun = all(spin.ok for _, spin in spins)
    if both_spun and cli_changed is not None and mcp.listed is not None and set(mcp.listed) != cli_changed:
        differences.append(listing_difference(mcp.listed, cli_changed, mcp_changed, cli.spin_artifacts))
    why = [f"{name} spin: {spin.headline}" for name, spin in spins if not spin.ok]
    evidence = {"cli": asdict(cli), "flowmcp": asdict(mcp),
                "cli_spin_changed": sorted(cli_changed) if cli_changed is not None else None,
                "flowmcp_spin_changed": sorted(mcp_changed) if mcp_changed is not None else None}
    if not differences:
        for side in ("cli", "flowmcp"):
            if evidence[side]["spin"]:
                evidence[side]["spin"]["text"] = ""
    split = split_text(mcp, mcp.spun_task) if mcp.spun_task else split_text(cli, cli.spun_task)
    return Row(flow_file, step, f"spin {spins[0][1].status}", f"spin {spins[1][1].status}", not differences,
               differences + why, evidence, split)


def compare(flow_file: str, cli: SideResult, mcp: SideResult) -> list[Row]:
    rows = [compare_run(flow_file, cli, mcp)]
    if cli.steps and mcp.steps:  # both runs succeeded and were read; else the run row says why not
        steps = list(cli.steps) + [s for s in mcp.steps if s not in cli.steps]
        rows += [compare_step(flow_file, step, cli.steps.get(step), mcp.steps.get(step)) for step in steps]
    return rows


# ---- driving it all ----------------------------------------------------------------------------

def check_flow(path: Path, label: str, work: Path, args: argparse.Namespace) -> list[Row]:
    cli_folder = copy_folder(path.parent, work / "cli")
    mcp_folder = copy_folder(path.parent, work / "flowmcp")
    started = time.monotonic()
    with open(work / "flowmcp-stderr.log", "w+") as server_log:
        mcp = anyio.run(flowmcp_side, args.python, mcp_folder, path.name, work, args.timeout, not args.no_warm,
                        server_log)
    # the CLI re-runs the split flowmcp chose: both spins then start from the same split's inputs
    spun = {step: indices(record.path(record.spun_task)) for step, record in mcp.steps.items() if record.spun_task}
    cli = cli_side(args.python, cli_folder, path.name, work, args.timeout, spun)
    rows = compare(label, cli, mcp)
    differing = sum(not r.same for r in rows)
    print(f"  {label}: CLI run {cli.run.status}, flowmcp run {mcp.run.status}, {len(rows) - 1} steps, "
          f"{differing} differences ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    return rows


def cell(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return head(text, MAX_NOTE_CHARS)


def print_table(rows: list[Row]) -> None:
    print("| flow file | step | split spun | CLI | flowmcp | same? | note |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {cell(r.flow_file)} | {cell(r.step)} | {cell(r.split)} | {cell(r.cli)} | {cell(r.flowmcp)} | "
              f"{'yes' if r.same else '**NO**'} | {cell('; '.join(r.notes))} |")


def interpreter_problem(python: str) -> str | None:
    """Why `python` cannot run the flows (so that a typo is not reported as a hundred findings)."""
    try:
        done = subprocess.run([python, "-c", "import metaflow"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return f"cannot be started ({type(ex).__name__}: {ex})"
    return None if done.returncode == 0 else f"cannot import metaflow: {last_error_line(done.stderr)}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="folders to search for flow files")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with Metaflow that runs the flows on both sides (default: this one)")
    parser.add_argument("--no-warm", action="store_true", help="pass --no-warm to flowmcp (a new interpreter per spin)")
    parser.add_argument("--only", metavar="NAME_SUBSTRING", action="append",
                        help="only flow files whose path contains this (repeat it to pick several)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write every record to this file")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"deadline of each subprocess and MCP call (default {DEFAULT_TIMEOUT_S:g} s)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the copied folders, to look into a finding")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.sep in args.python:  # the flows run in their own folders; never resolve a venv's symlink
        args.python = os.path.abspath(args.python)
    if problem := interpreter_problem(args.python):
        print(f"--python {args.python}: {problem}", file=sys.stderr)
        return 2
    if missing := [str(top) for top in args.dirs if not top.is_dir()]:
        print(f"not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    flows: dict[Path, str] = {}  # flow file -> its label in the report: the DIR's name, then the path in it
    for top in args.dirs:
        for path in find_flow_files(top):
            flows.setdefault(path.resolve(), str(Path(top.resolve().name) / path.relative_to(top)))
    flows = {path: label for path, label in flows.items() if not args.only or any(o in label for o in args.only)}
    if not flows:
        print("no flow files found (a .py file that defines a FlowSpec subclass with steps and calls it)",
              file=sys.stderr)
        return 2
    temp = Path(tempfile.mkdtemp(prefix="flowmcp-real-flows-"))
    print(f"{len(flows)} flow files; work folder {temp}", file=sys.stderr, flush=True)
    rows: list[Row] = []
    try:
        for number, (path, label) in enumerate(flows.items(), 1):
            work = temp / f"{number:03d}-{path.stem}"
            work.mkdir()
            print(f"[{number}/{len(flows)}] {label}", file=sys.stderr, flush=True)
            try:
                rows += check_flow(path, label, work, args)
            except Exception as ex:  # one odd flow must not cost the report on all the others
                rows.append(Row(label, "(run)", "?", "?", False, [f"real_flows.py failed: {type(ex).__name__}: {ex}"]))
            if not args.keep_temp:
                shutil.rmtree(work, ignore_errors=True)  # persisted spins of big artifacts fill a disk
    finally:
        if not args.keep_temp:
            shutil.rmtree(temp, ignore_errors=True)
    steps = sum(r.step != "(run)" for r in rows)
    differences = sum(not r.same for r in rows)
    print_table(rows)
    summary = f"{len(flows)} flows, {steps} steps, {differences} differences"
    print(f"\n{summary}")
    if args.json:
        report = {"python": args.python, "flowmcp": flowmcp_command(), "warm": not args.no_warm,
                  "timeout_s": args.timeout, "summary": summary, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
