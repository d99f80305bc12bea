"""Typed answers of the tools: each model is a tool's output schema and its structuredContent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["succeeded", "failed", "running"]
# A run's one true status, said the same by every tool: flowmcp knows when it stopped a run itself,
# and a run whose processes are gone is never "running".
RunStatus = Literal["succeeded", "failed", "running", "cancelled", "timed_out"]


class Failure(BaseModel):
    """Why a step failed, condensed. `summary` is what the agent reads first."""

    step: str | None = Field(None, description="The step that failed (null: the flow failed before any step ran)")
    task: str | None = Field(None, description="Pathspec of the failed task")
    exception_type: str = Field(description="The exception's class, e.g. KeyError")
    message: str = Field(description="The exception's message")
    file: str | None = Field(None, description="User file of the failing line, relative to the root")
    line: int | None = Field(None, description="Line number of the failing line in file")
    function: str | None = Field(None, description="The function the failing line is in: the step, or a helper")
    code: str | None = Field(None, description="The failing line of the user's code")
    hints: list[str] = Field(default_factory=list, description="Did-you-mean and what to do next")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    split_argument: str | int | None = Field(None, description="What spin's split= takes for that split: its "
                                             "index, or per level of a nested foreach (\"1/0/2\")")
    origin: Literal["step", "flow", "metaflow", "retry"] = Field(
        "step", description="What to fix: the step's code, how the flow is defined or started, nothing of "
        "yours (a known Metaflow bug), or probably nothing (retry: a spin ran once a step that needed @retry)")
    fix_at: str | None = Field(None, description="Where the edit goes when it is not the failing line: a helper's "
                               "line, or the data the step passes it")
    summary: str = Field(description="The rendered summary: headline, line, hints, values, trace")


class StepStatus(BaseModel):
    step: str = Field(description="The step's name")
    status: Status = Field(description="succeeded, failed, or running (in a run still going)")
    tasks: int = Field(description="Tasks of the step that ran (a foreach step runs one per split)")
    failed_tasks: int = Field(0, description="How many of them failed")
    duration_s: float | None = Field(None, description="The step's wall time, seconds")
    failed_splits: list[str] = Field(default_factory=list, description="For a foreach: the failed splits, by "
                                     "index and input value")
    cloned: bool = Field(False, description="A resumed run reused this step's tasks from the run it resumed")


class ArtifactSummary(BaseModel):
    name: str = Field(description="The artifact's name")
    type: str = Field(description="Its Python type, e.g. pandas.DataFrame")
    shape: list[int] | None = Field(None, description="Its dimensions (rows, columns; a sequence's length)")
    size_bytes: int | None = Field(None, description="Its size in memory, bytes, when known")
    summary: str = Field(description="One line: type and shape, never a full repr")
    detail: str = Field("", description="A few more lines (columns, keys, parameters); empty when the line says it")
    change: Literal["created", "changed", "from inputs"] | None = Field(
        None, description="In a spin: set by the step, changed in place, or taken from its inputs (a join)")


class RunResult(BaseModel):
    flow: str = Field(description="The flow's class name")
    pathspec: str | None = Field(None, description="FlowName/<run_id>, for list_runs, spin and inspect_artifact")
    status: RunStatus = Field(description="The run's one status, the same in every tool")
    duration_s: float | None = Field(None, description="The run's wall time (so far, while it runs), seconds")
    parameters: dict[str, object] = Field(default_factory=dict, description="As passed to the flow's CLI")
    tags: list[str] = Field(default_factory=list, description="The run's tags")
    steps: list[StepStatus] = Field(default_factory=list, description="Each step's status, tasks and time, in "
                                    "graph order")
    artifacts: dict[str, list[ArtifactSummary]] = Field(
        default_factory=dict, description="Per step, what it set (for a foreach: one split, named in artifact_splits)"
    )
    artifact_splits: dict[str, str] = Field(
        default_factory=dict, description="For a foreach step in artifacts: the split whose values are shown")
    failure: Failure | None = Field(None, description="Why the run failed, led by the user's line (null: it did not)")
    progress: str | None = Field(None, description="For a run still going: steps and tasks done so far")
    resumed_from: str | None = Field(None, description="For resume: the run (and step) it restarted from")
    output_tail: str = Field("", description="Last lines of the flow's own output, cleaned")
    warm: bool | None = Field(False, description="The tasks were forks of the warm worker rather than new "
                              "interpreters (null: not known, as for a run cancelled before it answered)")
    path_note: str | None = Field(None, description="Why tasks started as new interpreters, or what the worker did")
    warnings: list[str] = Field(
        default_factory=list, description="Warnings the steps showed: each kind once, counted (at most 3 lines)")
    notes: list[str] = Field(default_factory=list, description="What else this answer should say: the flow's "
                             "file shared with another flow, what this Metaflow lacks, ...")


class SpinResult(BaseModel):
    flow: str = Field(description="The flow's class name")
    step: str = Field(description="The step that was spun")
    status: Literal["succeeded", "failed"] = Field(description="Whether the step succeeded")
    pathspec: str | None = Field(None, description="The spin's own task pathspec (inspectable when persisted)")
    source_task: str | None = Field(None, description="The original task whose parent state was used")
    source_run_choice: str | None = Field(None, description="How the source run was chosen")
    split_index: int | None = Field(None, description="Foreach split that was spun, if any")
    split: str | None = Field(None, description="That split by index and input value: `split 2, input='b'`")
    duration_s: float | None = Field(None, description="The spin's wall time, seconds")
    persisted: bool = Field(False, description="Its outputs were kept (persist=true): inspect_artifact reads them")
    artifacts: list[ArtifactSummary] = Field(default_factory=list, description="Artifacts the step created or changed")
    stdout_tail: str = Field("", description="The last lines the step printed, cleaned")
    failure: Failure | None = Field(None, description="Why the step failed, led by the user's line (null: it did not)")
    cards: list[str] = Field(default_factory=list, description="HTML cards the step rendered (paths in the root)")
    stale_upstream: list[str] = Field(
        default_factory=list, description="Upstream steps edited since the run whose state was used"
    )
    artifacts_listed: bool = Field(True, description="False when flowmcp could not see what the step set")
    warm: bool = Field(False, description="Ran in a fork of the warm worker rather than a new interpreter")
    path_note: str | None = Field(None, description="Why a new interpreter ran, or what the warm worker did")
    warnings: list[str] = Field(
        default_factory=list, description="Warnings the steps showed: each kind once, counted (at most 3 lines)")
    notes: list[str] = Field(default_factory=list, description="What else this answer should say: overrides "
                             "Metaflow ignores, what this Metaflow lacks, ...")
    next_call: str | None = Field(None, description="The call to make next, and why")


class SplitValue(BaseModel):
    split: str = Field(description="The split, `split 1, input='b'`")
    argument: str | int | None = Field(None, description="What split= takes to name it")
    task: str = Field(description="The split's task pathspec")
    summary: str = Field(description="The artifact in that split, in one line")


class SplitLogs(BaseModel):
    split: str = Field(description="The split, `split 1, input='b'`")
    argument: str | int | None = Field(None, description="What split= takes to name it")
    task: str = Field(description="The split's task pathspec")
    lines: int = Field(description="Lines in the split's log, cleaned")
    last: str = Field("", description="Its last line")


class InspectResult(BaseModel):
    pathspec: str = Field(description="Task the artifact was read from")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    name: str = Field(description="The artifact's name")
    path: str | None = Field(None, description="The path drilled into, as given (null: the whole value)")
    type: str = Field(description="The value's Python type")
    shape: list[int] | None = Field(None, description="Its dimensions (rows, columns; a sequence's length)")
    size_bytes: int | None = Field(None, description="Its size in memory, bytes, when known")
    summary: str = Field(description="One line: type and shape, never a full repr")
    detail: str = Field("", description="More lines: columns and dtypes, keys, parameters, a few values")
    picture: str | None = Field(None, description="The value is a picture of this kind: as_image=true shows it")
    image: dict[str, Any] | None = Field(None, description="With as_image: the picture's mime, width, height, "
                                         "source (its bytes are the image content)")
    splits: list[SplitValue] = Field(default_factory=list, description="A foreach step's pathspec: the artifact in "
                                     "each split (the first ones, by index)")
    total_splits: int | None = Field(None, description="How many splits the step has")


class RunInfo(BaseModel):
    pathspec: str = Field(description="Flow/run_id of the run (of a spin: its own)")
    status: RunStatus = Field(description="The run's one status, the same in every tool")
    started_at: str | None = Field(None, description="When it started: ISO 8601, UTC")
    duration_s: float | None = Field(None, description="Its wall time, seconds")
    failed_step: str | None = Field(None, description="The step it failed at, when it failed")
    tags: list[str] = Field(default_factory=list, description="The run's tags")
    spin_step: str | None = Field(None, description="For spins: the step that was spun")
    file: str | None = Field(None, description="The flow file the run was started from, when flowmcp knows it")
    ended: str | None = Field(None, description="Why the run is not running, when Metaflow recorded no end")


class FlowInfo(BaseModel):
    file: str = Field(description="The flow file, relative to the root")
    flow: str | None = Field(None, description="Its flow class (null when the file does not load)")
    runs: int = Field(0, description="How many runs the flow has")
    latest_run: RunInfo | None = Field(None, description="Its newest run (null: it has none)")
    error: str | None = Field(None, description="Why the file does not load, when it does not")


class ListRunsResult(BaseModel):
    flow: str | None = Field(None, description="The flow's class name (null: the project's flows are listed)")
    runs: list[RunInfo] = Field(default_factory=list, description="This page's runs, newest first")
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next (older) page")
    total_runs: int | None = Field(None, description="Runs the flow has in all, before filtering (null: not counted)")
    flows: list[FlowInfo] = Field(default_factory=list, description="With no flow given: the flows in the root")
    notes: list[str] = Field(default_factory=list, description="What else the listing should say: runs of "
                             "another file defining the flow, ...")


class ParameterInfo(BaseModel):
    name: str = Field(description="The Parameter's name, as run's parameters takes it")
    type: str = Field(description="Its type as Metaflow declares it, e.g. int, float, str, JSON")
    default: str | int | float | bool | None = Field(
        None, description="The default; a list or object default as JSON text"
    )
    required: bool = Field(False, description="A run must give it")
    help: str | None = Field(None, description="Its help text")


class StepState(BaseModel):
    name: str = Field(description="The step's name")
    type: str = Field(description="start, linear, foreach, split, join or end")
    next: list[str] = Field(default_factory=list, description="The steps it goes to")
    foreach: str | None = Field(None, description="The artifact a foreach fans out over")
    line: int | None = Field(None, description="Line of the step's def in the flow file")
    state: Literal["verified", "stale", "failing", "unverified", "skeleton", "empty"] = Field(
        description="Whether the step's current code passed a run or spin; skeleton: it only calls self.next "
        "and no step after it has code yet; empty: it only calls self.next, and later steps have code"
    )
    checked_by: str | None = Field(None, description="The run or spin that last checked it")
    failed_how: str | None = Field(None, description="For a failing step, when it matters for the next call: "
                                   "transition (it ended without its self.next, which only a run checks)")


class ConfigInfo(BaseModel):
    name: str = Field(description="The Config's name")
    default: str | int | float | bool | None = Field(
        None, description="The default: a file name, or a value as JSON text"
    )
    required: bool = Field(False, description="A run must give it")
    help: str | None = Field(None, description="Its help text")


class FlowStatus(BaseModel):
    flow: str = Field(description="The flow's class name")
    file: str = Field(description="The flow file, relative to the root")
    parameters: list[ParameterInfo] = Field(default_factory=list, description="The flow's Parameters")
    configs: list[ConfigInfo] = Field(default_factory=list, description="The flow's Configs (Metaflow's Config)")
    steps: list[StepState] = Field(default_factory=list, description="Every step in graph order, with its state")
    latest_run: RunInfo | None = Field(None, description="The flow's newest run of this file (null: none yet)")
    next_call: str = Field(description="The call to make next, and why")
    notes: list[str] = Field(default_factory=list, description="What else the agent should know: another file "
                             "defining the flow, a graph problem, ...")


class LogsResult(BaseModel):
    pathspec: str = Field(description="The task the log belongs to (the step, for a foreach's splits)")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    stream: Literal["stdout", "stderr"] = Field(description="Which log this is")
    total_lines: int = Field(description="Lines in the whole log, after cleaning and folding repeats")
    matched: int = Field(description="Lines matching the pattern (all lines without one)")
    text: str = Field(description="The lines asked for (tail, head or pattern), cleaned; at most 200")
    splits: list[SplitLogs] = Field(default_factory=list, description="A foreach step without split=: each "
                                    "split's log in a line (the first ones, by index)")
    total_splits: int | None = Field(None, description="How many splits the step has")


class CardInfo(BaseModel):
    index: int = Field(description="Its position among the task's cards: view_card's index")
    type: str = Field(description="The card's type, e.g. default or blank")
    id: str | None = Field(None, description="Its @card(id=...), when it has one")
    hash: str | None = Field(None, description="Metaflow's hash of the card, as in its file name")
    summary: str = Field(description="What the card shows, as text")
    uri: str = Field(description="MCP resource with the card's full HTML")


class CardsResult(BaseModel):
    pathspec: str = Field(description="The task whose cards these are")
    cards: list[CardInfo] = Field(default_factory=list, description="Each card the task rendered")


class DoctorCheck(BaseModel):
    name: str = Field(description="What was checked")
    status: Literal["ok", "warn", "fail"] = Field(description="ok; warn: works, worth fixing; fail: broken")
    text: str = Field(description="What was found")
    fix: str | None = Field(None, description="What to do about it")


class DoctorResult(BaseModel):
    root: str = Field(description="The project root that was checked")
    ok: bool = Field(description="False when any check failed: flowmcp cannot work until it is fixed")
    checks: list[DoctorCheck] = Field(default_factory=list, description="One per concern, in the order shown")


class ViewCardResult(BaseModel):
    pathspec: str = Field(description="The task whose card this is")
    index: int = Field(description="Which card, as list_cards numbers them")
    type: str = Field(description="The card's type, e.g. default or blank")
    id: str | None = Field(None, description="Its @card(id=...), when it has one")
    uri: str = Field(description="MCP resource with the card's full HTML")
    width: int = Field(description="Page width rendered, px")
    height: int = Field(description="Page height shown in the pictures, px (before scaling)")
    page_height: int = Field(description="The whole page's height at this width, px")
    images: int = Field(description="Pictures in the answer, top to bottom")
    image_bytes: int = Field(description="Size of the pictures in all, bytes")
    scale: float = Field(description="Below 1 when the pictures were scaled down to stay under ~1 MB")
    cut: bool = Field(description="The pictures end before the page does (see full_page)")
    page_errors: int = Field(0, description="Exceptions the card's scripts threw that nothing caught")
    first_page_error: str | None = Field(None, description="The first of them: its message and line")
    dialogs_dismissed: int = Field(0, description="alert/confirm/prompt dialogs the card opened, each dismissed")
