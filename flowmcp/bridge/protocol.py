"""What the server and the project's interpreter say to each other: ops, requests, records, errors.

Standard library only, and loaded on both sides (the server imports `flowmcp.bridge.protocol`; the
project's interpreter loads the same file as part of flowmcp's package, `bridge/hook/_flowmcp_loader.py`).
A job is one op: the server writes a request (JSON), the project's side does the op and writes a
result, `{"ok": true, "data": <record>}` or `{"ok": false, "error": {"kind": ..., "message": ...}}`.
The records below are what `data` holds; every failure the project's side expects has a kind, and
the server maps kinds to flowmcp's errors in one table (`flowmcp/bridge/client.py`).

Python 3.9 compatible (project interpreters are 3.9 and newer): annotations stay strings.
"""

from __future__ import annotations

from typing import Any

try:
    from typing import TypedDict
except ImportError:  # pragma: no cover - Python 3.7, never a supported project interpreter
    TypedDict = dict

# ---------------------------------------------------------------------------- shared files


# ---------------------------------------------------------------------------- ops

DESCRIBE = "describe"
RUNS = "runs"
FLOWS = "flows"
RUN_DETAIL = "run_detail"
RUN = "run"
SPIN = "spin"
INSPECT = "inspect"
LOGS = "logs"
CARDS = "cards"
ARTIFACT_VALUE = "artifact_value"
ENVIRONMENT = "environment"  # flowmcp doctor: the interpreter, its Metaflow and the profile's stores, tried
OPS = (DESCRIBE, RUNS, FLOWS, RUN_DETAIL, RUN, SPIN, INSPECT, LOGS, CARDS, ARTIFACT_VALUE, ENVIRONMENT)
LOADS_FLOW = frozenset({DESCRIBE, SPIN})  # ops that execute the flow file (the warm path may take them)
# What a resource (a whole log, an artifact as JSON) may carry: fetched on purpose, still bounded.
MAX_RESOURCE_CHARS = 5_000_000
# The Metaflow releases flowmcp works with: from the first (inclusive) up to the second (exclusive).
# 2.19.0 is spin's first release; .ci/matrix runs the end-to-end core on 2.19.0, 2.19.20 and 2.19.39.
SUPPORTED_METAFLOW = ((2, 19, 0), (2, 20))


def metaflow_release(version):
    """The release numbers of a Metaflow version string ("2.19.39", "2.19.39.1" of ob-metaflow,
    "2.19.40+dev"): the leading numbers, at most three."""
    numbers = []
    for part in str(version).replace("+", ".").replace("-", ".").split(".")[:3]:
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def metaflow_supported(version):
    first, beyond = SUPPORTED_METAFLOW
    release = metaflow_release(version)
    return bool(release) and first <= release and release[:len(beyond)] < beyond

# ---------------------------------------------------------------------------- error kinds
# Each kind names what went wrong in words the server turns into one of flowmcp's errors.

BAD_PATH = "bad_path"  # an inspect_artifact path expression that does not parse or does not lead anywhere
BAD_RUN = "bad_run"  # a run argument that is not a run id or Flow/run_id
BAD_ARTIFACTS_MODULE = "bad_artifacts_module"  # an artifacts module that raises or has no ARTIFACTS dict
AMBIGUOUS_STEP = "ambiguous_step"  # Flow/run/step of a foreach: the task must be named
JOIN_TOO_WIDE = "join_too_wide"  # a join Metaflow's spin cannot re-run (5 or more inputs)
NOT_A_PICTURE = "not_a_picture"  # inspect_artifact(as_image=True) of a value that is no picture
NO_RUN = "no_run"  # a run that does not exist
NO_RUNS = "no_runs"  # a flow with no run to take a spin's parent state from
STEP_NOT_IN_RUN = "step_not_in_run"  # a step the chosen run never ran
NO_TASK = "no_task"  # a task that does not exist
NO_ARTIFACT = "no_artifact"  # an artifact name the task does not hold
NO_CARD = "no_card"  # a card index the task does not have
NO_LOGS = "no_logs"  # a log that cannot be read
NOT_FOUND = "not_found"  # a pathspec that names nothing
NOT_PERSISTED = "not_persisted"  # a spin run without --persist: it kept none of its outputs
SYNTAX = "syntax"  # the flow file does not compile
FLOW_IMPORT = "flow_import"  # the flow file raised while it was loaded
NO_FLOW = "no_flow"  # the file defines no FlowSpec
SEVERAL_FLOWS = "several_flows"  # the file defines several flows and starts none
FLOW_CLI = "flow_cli"  # Metaflow refused to start the flow's CLI and no class could be described
NO_METAFLOW = "no_metaflow"  # the project's interpreter has no `metaflow` package
METAFLOW_VERSION = "metaflow_version"  # its Metaflow is outside SUPPORTED_METAFLOW
INTERNAL = "internal"  # anything else the project's side did not expect (a flowmcp bug, or Metaflow's)

BAD_ARGUMENT_KINDS = frozenset({BAD_PATH, BAD_RUN, BAD_ARTIFACTS_MODULE, AMBIGUOUS_STEP, JOIN_TOO_WIDE, NOT_A_PICTURE})
NOT_FOUND_KINDS = frozenset({NO_RUN, NO_RUNS, STEP_NOT_IN_RUN, NO_TASK, NO_ARTIFACT, NO_CARD, NO_LOGS, NOT_FOUND,
                             NOT_PERSISTED})
FLOW_FILE_KINDS = frozenset({SYNTAX, FLOW_IMPORT, NO_FLOW, SEVERAL_FLOWS, FLOW_CLI})


class JobError(Exception):
    """An expected failure of a job, raised on the project's side: `kind` (above) says what it was,
    `message` what the agent should read and do, `extra` any structured detail (an exception
    record, close matches)."""

    def __init__(self, kind: str, message: str, **extra: Any):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra

    def as_error(self) -> dict[str, Any]:
        return dict(self.extra, kind=self.kind, message=self.message)


# ---------------------------------------------------------------------------- records


class ExceptionRecord(TypedDict, total=False):
    """A live exception as plain data (`bridge/capture.py`): type, message, frames, chain."""

    type: str
    module: str
    message: str
    message_chars: int
    frames: list[dict[str, Any]]
    cause: ExceptionRecord | None
    context: ExceptionRecord | None
    notes: list[str]
    syntax: dict[str, Any]
    suggestions: list[dict[str, Any]]  # did-you-mean: kind, wrong, close, names (bridge/facts.py)
    data_facts: list[str]  # NaN/inf columns, dtypes, empty inputs on the failing line


class MetaflowErrorRecord(TypedDict, total=False):
    """An error Metaflow's CLI reported itself (a MetaflowException, or click's usage error)."""

    type: str
    headline: str
    message: str
    file: str | None
    line: int | None


class CliError(TypedDict, total=False):
    """What stopped the flow's CLI in the job's own process: one of these is set."""

    metaflow: MetaflowErrorRecord
    exception: ExceptionRecord
    syntax: ExceptionRecord


class CaptureRecord(TypedDict, total=False):
    """What the step-process hook wrote for one task (`bridge/hook/sitecustomize.py`)."""

    step: str
    run_id: str
    task_id: int
    exception: ExceptionRecord  # the step function raised (a @catch may have swallowed it)
    persist_error: ExceptionRecord  # saving the task's artifacts failed (one that cannot be pickled)
    unsaved: dict[str, Any]  # the artifact that could not be saved: name, type, summary
    attempt: int | None  # Metaflow's retry count of this task (0: the first attempt)
    merge_values: dict[str, list[list[str]]]  # merge_artifacts conflicts: name -> [[input, value]]
    warnings: list[dict[str, Any]]  # warnings shown while the step ran: category, message, where, count
    available: list[str]  # artifact names the step could read when it failed
    split: dict[str, Any] | None  # foreach index and input of the failing task
    artifacts: dict[str, dict[str, Any]]  # what the task set: name -> summary with "change"
    unchecked: list[str]  # inputs too large to check for in-place changes
    hook_error: str


class ParameterRecord(TypedDict, total=False):
    name: str
    type: str
    default: Any
    required: bool
    help: str | None
    is_file: bool


class ConfigRecord(TypedDict, total=False):
    name: str
    default: Any
    required: bool
    help: str | None


class StepRecord(TypedDict, total=False):
    name: str
    type: str  # start, linear, foreach, split, join, end
    next: list[str]
    foreach: str | None
    line: int
    inputs: list[str]
    decorators: list[str]
    matching_join: str | None  # of a split or foreach: the join that closes it


class EnvironmentRecord(TypedDict, total=False):
    """ENVIRONMENT: the project interpreter as `flowmcp doctor` reports it. `import_error` is set
    (and the rest absent) when `import metaflow` fails; remote stores carry `ok` and `error`."""

    python: str
    python_version: str
    distributions: list[str]  # "ob-metaflow 2.19.39.1": what installed the `metaflow` package
    import_error: str
    metaflow: dict[str, Any]  # version, where, supported
    extensions: dict[str, str]  # extension package -> version
    missing: dict[str, list[str]]  # feature -> the internals this Metaflow lacks for it
    profile: dict[str, Any]  # name, file, exists
    user: dict[str, Any]  # name (None: Metaflow has none), source
    datastore: dict[str, Any]  # type, root, ok, error, unchecked
    metadata: dict[str, Any]  # type, url, ok, error


class FlowRecord(TypedDict, total=False):
    """DESCRIBE: a flow as `python flow.py` sees it (configs and mutators applied)."""

    flow_name: str
    file: str
    parameters: list[ParameterRecord]
    configs: list[ConfigRecord]
    steps: list[StepRecord]
    flow_decorators: list[str]
    cli_error: MetaflowErrorRecord | None  # Metaflow would not start this flow as it is (type NotStarted: no main)


class StepSummary(TypedDict, total=False):
    step: str
    status: str  # succeeded, failed, running
    tasks: int
    failed_tasks: int
    failed_splits: list[dict[str, Any]]  # foreach: each failed task's split (summarize/splits.py)
    cloned: bool  # resume reused this step's tasks from the run it resumed
    duration_s: float | None
    started_at: float | None


class TaskFailureRecord(TypedDict, total=False):
    task: str
    step: str
    stored_exception: dict[str, Any]
    stderr: str
    stdout: str


class RunRecord(TypedDict, total=False):
    """A run (or a spin, as a one-step run) with its one true status."""

    pathspec: str
    run_id: str
    status: str  # succeeded, failed, running, cancelled, timed_out
    started_at: float | None
    duration_s: float | None
    failed_step: str | None
    failed_task: str | None
    tags: list[str]
    file: str | None  # the flow file it came from, when flowmcp started it
    ended: str | None  # why it is not running though Metaflow recorded no end
    spin_step: str
    steps: list[StepSummary]  # with detail
    failure: TaskFailureRecord  # with detail, when a task failed


class RunsPage(TypedDict, total=False):
    """RUNS: a page of a flow's runs, newest first."""

    runs: list[RunRecord]
    next_cursor: str | None
    total_runs: int | None  # None when another file's runs had to be told apart
    unattributed: int  # runs no file could be matched to


class FlowRuns(TypedDict, total=False):
    file: str
    flow_name: str | None
    runs: int
    latest_run: RunRecord | None


class FlowsRecord(TypedDict):
    """FLOWS: each flow file of the root with its latest run."""

    flows: list[FlowRuns]


class CliOutcome(TypedDict, total=False):
    """What every job that runs the flow's CLI (a run, a resume, a spin) reports of it."""

    exit_code: int
    oom_kills: int  # the kernel's OOM killer stopped this many processes during the job
    memory_limit: int | None  # bytes: the job's memory cgroup limit, else the machine's memory
    cli_error: CliError | None
    elapsed_s: float


class RunOutcome(CliOutcome, total=False):
    """RUN: the CLI's exit and the run it recorded."""

    run: RunRecord | None
    read_error: str


class SpinSource(TypedDict, total=False):
    run_pathspec: str
    run_status: str
    run_chosen: str  # "given", "latest successful", "latest (no successful run exists)"
    task_pathspec: str
    split: dict[str, Any] | None
    notes: list[str]


class SpinTaskRecord(TypedDict, total=False):
    pathspec: str
    status: str
    stdout: str
    stderr: str
    cards: list[str]  # card files the spin rendered, relative to the root
    card_errors: dict[str, str]  # card file -> the error, for Metaflow's error cards
    read_error: str


class SpinOutcome(CliOutcome, total=False):
    """SPIN: the task the spin re-ran, the CLI's exit and the spin's own task."""

    source: SpinSource
    spin_run_id: str | None
    task: SpinTaskRecord


class ArtifactRecord(TypedDict, total=False):
    """INSPECT: one artifact (or a value inside it), summarized where it lives."""

    pathspec: str
    name: str
    path: str | None
    type: str
    shape: list[int] | None
    size_bytes: int | None
    summary: str
    detail: str
    picture: str | None  # the value is a picture of this kind (as_image shows it)
    image: dict[str, Any] | None  # with as_image: mime, data (base64), width, height, source
    splits: list[dict[str, Any]]  # a foreach step: per split (its first rows) {split, task, summary}
    total_splits: int


class LogRecord(TypedDict, total=False):
    """LOGS: a task's log, cleaned, cut where it lives."""

    pathspec: str
    stream: str
    total_lines: int
    matched: int
    text: str


class CardRecord(TypedDict, total=False):
    index: int
    type: str
    id: str | None
    hash: str | None
    summary: str


class CardsRecord(TypedDict, total=False):
    """CARDS: a task's cards described, one card's HTML (with `index`), or both (`listing` too)."""

    pathspec: str
    cards: list[CardRecord]
    html: str


class ValueRecord(TypedDict):
    """ARTIFACT_VALUE: an artifact as JSON when it is JSON data, else its description."""

    mime: str
    text: str


Identity = dict[str, Any]  # {"file", "steps", "rivals": [{"file", "steps"}]}: see listing.run_file
CliParameters = list[tuple[str, str]]
