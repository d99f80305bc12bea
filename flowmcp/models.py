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

    step: str | None = None
    task: str | None = Field(None, description="Pathspec of the failed task")
    exception_type: str
    message: str
    file: str | None = Field(None, description="User file of the failing line, relative to the root")
    line: int | None = None
    function: str | None = None
    code: str | None = Field(None, description="The failing line of the user's code")
    hints: list[str] = Field(default_factory=list, description="Did-you-mean and what to do next")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    split_argument: str | int | None = Field(None, description="What spin's split= takes for that split: its "
                                             "index, or per level of a nested foreach (\"1/0/2\")")
    origin: Literal["step", "flow", "metaflow", "retry"] = Field(
        "step", description="What to fix: the step's code, how the flow is defined or started, nothing of "
        "yours (a known Metaflow bug), or probably nothing (retry: a spin ran once a step that needed @retry)")
    summary: str = Field(description="The rendered summary: headline, line, hints, values, trace")


class StepStatus(BaseModel):
    step: str
    status: Status
    tasks: int
    failed_tasks: int = 0
    duration_s: float | None = None
    failed_splits: list[str] = Field(default_factory=list, description="For a foreach: the failed splits, by "
                                     "index and input value")
    cloned: bool = Field(False, description="A resumed run reused this step's tasks from the run it resumed")


class ArtifactSummary(BaseModel):
    name: str
    type: str
    shape: list[int] | None = None
    size_bytes: int | None = None
    summary: str = Field(description="One line: type and shape, never a full repr")
    detail: str = ""
    change: Literal["created", "changed", "from inputs"] | None = None


class RunResult(BaseModel):
    flow: str
    pathspec: str | None = Field(None, description="FlowName/<run_id>, for list_runs, spin and inspect_artifact")
    status: RunStatus
    duration_s: float | None = None
    parameters: dict[str, object] = Field(default_factory=dict, description="As passed to the flow's CLI")
    tags: list[str] = Field(default_factory=list)
    steps: list[StepStatus] = Field(default_factory=list)
    artifacts: dict[str, list[ArtifactSummary]] = Field(
        default_factory=dict, description="Per step, what it set (for a foreach: one split, named in artifact_splits)"
    )
    artifact_splits: dict[str, str] = Field(
        default_factory=dict, description="For a foreach step in artifacts: the split whose values are shown")
    failure: Failure | None = None
    progress: str | None = Field(None, description="For a run still going: steps and tasks done so far")
    resumed_from: str | None = Field(None, description="For resume: the run (and step) it restarted from")
    output_tail: str = Field("", description="Last lines of the flow's own output, cleaned")
    warm: bool | None = Field(False, description="The tasks were forks of the warm worker rather than new "
                              "interpreters (null: not known, as for a run cancelled before it answered)")
    path_note: str | None = Field(None, description="Why tasks started as new interpreters, or what the worker did")
    warnings: list[str] = Field(
        default_factory=list, description="Warnings the steps showed: each kind once, counted (at most 3 lines)")
    notes: list[str] = Field(default_factory=list)


class SpinResult(BaseModel):
    flow: str
    step: str
    status: Literal["succeeded", "failed"]
    pathspec: str | None = Field(None, description="The spin's own task pathspec (inspectable when persisted)")
    source_task: str | None = Field(None, description="The original task whose parent state was used")
    source_run_choice: str | None = Field(None, description="How the source run was chosen")
    split_index: int | None = Field(None, description="Foreach split that was spun, if any")
    split: str | None = Field(None, description="That split by index and input value: `split 2, input='b'`")
    duration_s: float | None = None
    persisted: bool = False
    artifacts: list[ArtifactSummary] = Field(default_factory=list, description="Artifacts the step created or changed")
    stdout_tail: str = ""
    failure: Failure | None = None
    cards: list[str] = Field(default_factory=list, description="HTML cards the step rendered (paths in the root)")
    stale_upstream: list[str] = Field(
        default_factory=list, description="Upstream steps edited since the run whose state was used"
    )
    artifacts_listed: bool = Field(True, description="False when flowmcp could not see what the step set")
    warm: bool = Field(False, description="Ran in a fork of the warm worker rather than a new interpreter")
    path_note: str | None = Field(None, description="Why a new interpreter ran, or what the warm worker did")
    warnings: list[str] = Field(
        default_factory=list, description="Warnings the steps showed: each kind once, counted (at most 3 lines)")
    notes: list[str] = Field(default_factory=list)
    next_call: str | None = Field(None, description="The call to make next, and why")


class SplitValue(BaseModel):
    split: str = Field(description="The split, `split 1, input='b'`")
    argument: str | int | None = Field(None, description="What split= takes to name it")
    task: str = Field(description="The split's task pathspec")
    summary: str = Field(description="The artifact in that split, in one line")


class SplitLogs(BaseModel):
    split: str = Field(description="The split, `split 1, input='b'`")
    argument: str | int | None = Field(None, description="What split= takes to name it")
    task: str
    lines: int = Field(description="Lines in the split's log, cleaned")
    last: str = Field("", description="Its last line")


class InspectResult(BaseModel):
    pathspec: str = Field(description="Task the artifact was read from")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    name: str
    path: str | None = None
    type: str
    shape: list[int] | None = None
    size_bytes: int | None = None
    summary: str
    detail: str = ""
    picture: str | None = Field(None, description="The value is a picture of this kind: as_image=true shows it")
    image: dict[str, Any] | None = Field(None, description="With as_image: the picture's mime, width, height, "
                                         "source (its bytes are the image content)")
    splits: list[SplitValue] = Field(default_factory=list, description="A foreach step's pathspec: the artifact in "
                                     "each split (the first ones, by index)")
    total_splits: int | None = Field(None, description="How many splits the step has")


class RunInfo(BaseModel):
    pathspec: str
    status: RunStatus
    started_at: str | None = Field(None, description="ISO 8601, UTC")
    duration_s: float | None = None
    failed_step: str | None = None
    tags: list[str] = Field(default_factory=list)
    spin_step: str | None = Field(None, description="For spins: the step that was spun")
    file: str | None = Field(None, description="The flow file the run was started from, when flowmcp knows it")
    ended: str | None = Field(None, description="Why the run is not running, when Metaflow recorded no end")


class FlowInfo(BaseModel):
    file: str
    flow: str | None = None
    runs: int = 0
    latest_run: RunInfo | None = None
    error: str | None = None


class ListRunsResult(BaseModel):
    flow: str | None = None
    runs: list[RunInfo] = Field(default_factory=list)
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next (older) page")
    total_runs: int | None = None
    flows: list[FlowInfo] = Field(default_factory=list, description="With no flow given: the flows in the root")
    notes: list[str] = Field(default_factory=list)


class ParameterInfo(BaseModel):
    name: str
    type: str
    default: str | int | float | bool | None = Field(
        None, description="The default; a list or object default as JSON text"
    )
    required: bool = False
    help: str | None = None


class StepState(BaseModel):
    name: str
    type: str = Field(description="start, linear, foreach, split, join or end")
    next: list[str] = Field(default_factory=list)
    foreach: str | None = Field(None, description="The artifact a foreach fans out over")
    line: int | None = None
    state: Literal["verified", "stale", "failing", "unverified", "skeleton", "empty"] = Field(
        description="Whether the step's current code passed a run or spin; skeleton: it only calls self.next "
        "and no step after it has code yet; empty: it only calls self.next, and later steps have code"
    )
    checked_by: str | None = Field(None, description="The run or spin that last checked it")
    failed_how: str | None = Field(None, description="For a failing step, when it matters for the next call: "
                                   "transition (it ended without its self.next, which only a run checks)")


class ConfigInfo(BaseModel):
    name: str
    default: str | int | float | bool | None = Field(
        None, description="The default: a file name, or a value as JSON text"
    )
    required: bool = False
    help: str | None = None


class FlowStatus(BaseModel):
    flow: str
    file: str
    parameters: list[ParameterInfo] = Field(default_factory=list)
    configs: list[ConfigInfo] = Field(default_factory=list, description="The flow's Configs (Metaflow's Config)")
    steps: list[StepState] = Field(default_factory=list)
    latest_run: RunInfo | None = None
    next_call: str = Field(description="The call to make next, and why")
    notes: list[str] = Field(default_factory=list)


class LogsResult(BaseModel):
    pathspec: str = Field(description="The task the log belongs to (the step, for a foreach's splits)")
    split: str | None = Field(None, description="For a foreach task: its split, `split 1, input='b'`")
    stream: Literal["stdout", "stderr"]
    total_lines: int = Field(description="Lines in the whole log, after cleaning and folding repeats")
    matched: int = Field(description="Lines matching the pattern (all lines without one)")
    text: str
    splits: list[SplitLogs] = Field(default_factory=list, description="A foreach step without split=: each "
                                    "split's log in a line (the first ones, by index)")
    total_splits: int | None = None


class CardInfo(BaseModel):
    index: int
    type: str
    id: str | None = None
    hash: str | None = None
    summary: str = Field(description="What the card shows, as text")
    uri: str = Field(description="MCP resource with the card's full HTML")


class CardsResult(BaseModel):
    pathspec: str
    cards: list[CardInfo] = Field(default_factory=list)


class DoctorCheck(BaseModel):
    name: str
    status: Literal["ok", "warn", "fail"] = Field(description="ok; warn: works, worth fixing; fail: broken")
    text: str = Field(description="What was found")
    fix: str | None = Field(None, description="What to do about it")


class DoctorResult(BaseModel):
    root: str
    ok: bool = Field(description="False when any check failed: flowmcp cannot work until it is fixed")
    checks: list[DoctorCheck] = Field(default_factory=list)


class ViewCardResult(BaseModel):
    pathspec: str = Field(description="The task whose card this is")
    index: int
    type: str
    id: str | None = None
    uri: str = Field(description="MCP resource with the card's full HTML")
    width: int = Field(description="Page width rendered, px")
    height: int = Field(description="Page height shown in the pictures, px (before scaling)")
    page_height: int = Field(description="The whole page's height at this width, px")
    images: int = Field(description="Pictures in the answer, top to bottom")
    image_bytes: int
    scale: float = Field(description="Below 1 when the pictures were scaled down to stay under ~1 MB")
    cut: bool = Field(description="The pictures end before the page does (see full_page)")
