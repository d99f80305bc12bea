"""The `spin` tool: re-run one step with its parent's state from an earlier run."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .. import models
from ..app import App, FlowDescription
from ..bridge.client import Ran
from ..bridge.protocol import SpinOutcome
from ..bridge.warm import decorator_reason
from ..errors import BadArgumentError, FlowmcpError
from ..state.steps import stale_upstream, step_versions
from ..summarize import failure as failure_summary
from ..summarize import logs, shown_warnings, splits
from ._common import (
    agent_errors,
    answer,
    app_of,
    artifact_summaries,
    checked_split,
    describe_or_fail,
    normalise_id,
)
from ._pathspec import Pathspec
from ._progress import TaskProgress
from ._runs import EnvironmentOption

STDOUT_TAIL_LINES = 10
MAX_ARTIFACTS_SHOWN = 12
DETAIL_LINES_SHOWN = 4  # per artifact, under its one-line summary
MAX_ARTIFACT_JSON_BYTES = 10 * 1024 * 1024


async def spin(
    flow: Annotated[str, Field(description="Path of the flow's .py file, relative to the project root")],
    step: Annotated[str, Field(description="The step to re-run")],
    ctx: Context,
    run: Annotated[
        str | int | None,
        Field(description="Run id or Flow/run_id to take the parent state from; default: the latest successful run"),
    ] = None,
    task: Annotated[
        str | int | None,
        Field(description="Task id of the original task to re-run (another way to pick a foreach split)"),
    ] = None,
    split: Annotated[
        str | int | None,
        Field(description="For a foreach step: the split to re-run, by its input value (e.g. \"b\") or its "
                          "index; default: the first split"),
    ] = None,
    artifacts: Annotated[
        dict[str, Any] | None,
        Field(description="Input artifacts to override, as JSON values, e.g. {\"k\": 3}"),
    ] = None,
    artifacts_module: Annotated[
        str | None,
        Field(description="Path of a module in the root defining ARTIFACTS = {...} (for non-JSON values)"),
    ] = None,
    persist: Annotated[
        bool, Field(description="Keep the step's outputs so inspect_artifact can read them via the spin's pathspec")
    ] = False,
    timeout_s: Annotated[float | None, Field(description="Stop the spin after this many seconds", gt=0)] = None,
    environment: EnvironmentOption = None,
) -> Annotated[CallToolResult, models.SpinResult]:
    """Re-run ONE step locally with its parent's artifacts from an earlier run — seconds, not a full run.

    Use it to develop and test a step: edit the step, spin it, read the answer, repeat. A run of
    the flow must exist first (call run once). Nothing is recorded unless persist=True; call
    run to record the step's outputs once it works. Answers with the source task used, the
    artifacts the step created or changed (type and shape), its output, and on failure the
    failing line of your code with a diagnosis."""
    with agent_errors("spin"):
        app = app_of(ctx)
        # The inner loop is edit → spin: the edited file must be described again (~25 ms, a job of
        # its own). The spin need not wait for that: it starts from the last description, and is
        # kept only if the new one agrees on everything the spin was started with.
        before = app.described_before(flow)
        started_early = before is not None and before.cli_error is None and step in before.step_names
        describing = DescribeLater(app, flow, step) if started_early else None
        desc, failed = (before, None) if started_early else await describe_or_fail(app, flow, _failed_to_load(step))
        if failed:
            return failed
        app.check_runnable(desc)
        step_info = desc.step(step)
        identity, identity_notes = await app.identity(desc)
        if artifacts is not None and artifacts_module is not None:
            raise BadArgumentError("Pass artifacts or artifacts_module, not both (put every override in the module).")
        request: dict[str, Any] = {
            "flow_file": str(desc.file),
            "flow_name": desc.name,
            "step": step,
            "run": normalise_id(run),
            "task": normalise_id(task),
            "split": _checked_split(split, task),
            "persist": persist,
            "step_type": step_info["type"],
            "environment": environment,
            "identity": identity,
        }
        notes = list(identity_notes)
        if artifacts_module is not None:
            module_path = app.config.resolve(artifacts_module, what="artifacts_module")
            if not module_path.is_file() or module_path.suffix != ".py":
                raise BadArgumentError(f"artifacts_module {artifacts_module!r} is not a .py file in the project root.")
            request["artifacts_module"] = str(module_path)
        written = _write_artifacts_module(app, artifacts) if artifacts else None
        if written:
            request["artifacts_module"] = str(written)
            if step_info["type"] == "join" and not all("/" in k for k in artifacts):
                notes.append(
                    f"{step} is a join: Metaflow ignores flat overrides there; key them by parent "
                    "task pathspec, e.g. {\"<run>/<step>/<task>\": {\"name\": value}}."
                )
        versions = step_versions(desc.file)
        cold_reason = _cold_reason(step_info, desc, environment)
        try:
            spin_error = None
            async with anyio.create_task_group() as describe_meanwhile:
                if describing is not None:
                    describe_meanwhile.start_soon(describing.run)
                try:
                    ran = await app.bridge.spin(request, timeout=timeout_s,
                                                events=TaskProgress(ctx, [step], f"spin {step}"),
                                                flow_file=desc.file, cold_reason=cold_reason)
                except FlowmcpError as ex:  # judged once the new description is known
                    spin_error = ex
            if describing is not None:
                if describing.error is not None:
                    raise describing.error
                if describing.failed is not None:
                    return describing.failed  # the new version does not load: that is the answer
                fresh = describing.desc
                if _started_with(fresh, step, environment) != _started_with(desc, step, environment):
                    # The edit changed what the spin was started with: spin again, as the new version says
                    return await spin(flow, step, ctx, run, task, split, artifacts, artifacts_module, persist,
                                      timeout_s, environment)
                desc = fresh
            if spin_error is not None:
                raise spin_error
        finally:
            if written:
                written.unlink(missing_ok=True)  # one spin's inputs; the agent's call holds them
        result = build_result(app, desc, step, ran, persist, timeout_s, versions)
        result.notes = notes + result.notes
        _say_parent_state(desc, step, result)
        recorded = _recorded_by_source(app, desc, step, versions, result.source_task)
        result.next_call = (next_after_success(result, desc, recorded) if result.status == "succeeded"
                            else next_after_failure(result.failure, step))
        if ran.timed_out and ran.run_id:  # Metaflow records no end for a killed spin: we do
            app.ledger.ended(desc.name, ran.run_id, "timed_out", f"stopped after {timeout_s:g} s (timeout_s)")
        await app.housekeep(desc.name)
        if result.pathspec:
            dropped = {"catch", "retry"} & set(desc.step(step).get("decorators", []))
            app.state.record_spin(desc.key, step, versions.get(step), result.status == "succeeded", result.pathspec,
                                  without_decorators=bool(dropped))
        return answer(render(result), result, is_error=result.status != "succeeded")


class DescribeLater:
    """The flow's new description, made while a spin already runs (see `spin`)."""

    def __init__(self, app: App, flow: str, step: str):
        self.app, self.flow, self.step = app, flow, step
        self.desc: FlowDescription | None = None
        self.failed: CallToolResult | None = None
        self.error: FlowmcpError | None = None

    async def run(self) -> None:
        try:
            self.desc, self.failed = await describe_or_fail(self.app, self.flow, _failed_to_load(self.step))
        except FlowmcpError as ex:  # raised by the spin call, once the spin is over
            self.error = ex


def _checked_split(split: str | int | None, task: str | int | None) -> str | int | None:
    if split is not None and task is not None:
        raise BadArgumentError("Pass split or task, not both: a task id already names one split.")
    return checked_split(split)


def _failed_to_load(step: str):
    return lambda name, failure: models.SpinResult(flow=name, step=step, status="failed", failure=failure)


def _started_with(desc: FlowDescription | None, step: str, environment: str | None) -> tuple:
    """What a spin is started with, from a description: the flow's name, the step's type and
    whether it may run warm. Two descriptions that agree here start the same spin."""
    if desc is None or desc.cli_error or step not in desc.step_names:
        return (None,)
    info = desc.step(step)
    return desc.name, info["type"], _cold_reason(info, desc, environment)


def _cold_reason(step_info: dict[str, Any], desc: FlowDescription, environment: str | None) -> str | None:
    """Why this spin must start a new interpreter, if it must."""
    if environment:
        return f"environment={environment!r}: Metaflow builds the step's environment itself"
    return decorator_reason(step_info["decorators"] + desc.decorators)


def _stale_upstream(app: App, desc: FlowDescription, step: str, versions: dict[str, str],
                    source_task: str | None) -> list[str] | None:
    """The upstream steps edited since the run whose outputs this spin reused; None when that is
    not known (a run flowmcp did not record: the plain CLI's, another project's state)."""
    if not source_task:
        return None
    recorded = app.state.run_versions(desc.key, Pathspec.parse(source_task).run)
    if recorded is None:
        return None
    return stale_upstream(desc.steps, step, versions, recorded)


def _say_parent_state(desc: FlowDescription, step: str, result: models.SpinResult) -> None:
    """Say so when an upstream step changed after the run whose outputs this spin reused."""
    if result.stale_upstream:
        changed = ", ".join(result.stale_upstream)
        source_run = Pathspec.parse(result.source_task).run_pathspec
        result.notes.append(
            f"Stale parent state: {changed} changed since {source_run} produced these inputs, so {step} "
            f"ran on the old code's outputs. Call run(flow) to record the new {changed}, then spin {step} again."
        )


def _write_artifacts_module(app: App, artifacts: dict[str, Any]) -> Path:
    """Metaflow reads overrides from a module's ARTIFACTS dict: write one from the JSON values."""
    for name in artifacts:
        if not name or not (name.isidentifier() or "/" in name):
            raise BadArgumentError(f"Artifact name {name!r} is not a Python identifier.")
    try:
        payload = json.dumps(artifacts, allow_nan=False)
    except (TypeError, ValueError) as ex:
        raise BadArgumentError(
            f"artifacts must be plain JSON values: {ex}. For other objects use artifacts_module."
        ) from None
    if len(payload) > MAX_ARTIFACT_JSON_BYTES:
        raise BadArgumentError("artifacts is over 10 MB of JSON; put large inputs in an artifacts_module.")
    folder = app.config.state_dir / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"artifacts_{uuid.uuid4().hex[:12]}.py"
    path.write_text(
        "# Written by flowmcp for one spin: the artifacts the agent passed, as JSON.\n"
        f"import json\nARTIFACTS = json.loads({payload!r})\n"
    )
    return path


def build_result(app: App, desc: FlowDescription, step: str, ran: Ran[SpinOutcome], persist: bool,
                 timeout_s: float | None, versions: dict[str, str] | None = None) -> models.SpinResult:
    data: SpinOutcome = ran.record or {}
    source = data.get("source") or {}
    stale = _stale_upstream(app, desc, step, versions or step_versions(desc.file), source.get("task_pathspec"))
    task = data.get("task") or {}
    capture = next((c for c in ran.captures if c.get("step") == step), {})
    stdout = task.get("stdout", "")
    status = "succeeded" if task.get("status") == "succeeded" and not data.get("exit_code") else "failed"
    failure = None
    if ran.timed_out:
        failure = models.Failure(exception_type="Timeout", message=f"the spin was stopped after {timeout_s:g} s",
                                 summary=f"Timeout: the spin was stopped after {timeout_s:g} s (timeout_s).")
        status = "failed"
    elif status == "failed":
        step_info = desc.step(step)
        failure = failure_summary.as_model(failure_summary.best_failure(
            step=step, task=task.get("pathspec"), captures=ran.captures, cli_error=data.get("cli_error"),
            stderr=task.get("stderr", ""), output=ran.output, root=app.config.root, flow_file=desc.file,
            step_names=desc.step_names, step_decorators=step_info.get("decorators"), spin=True,
            memory=data,  # oom_kills, memory_limit: whether the kernel's OOM killer acted
            graph=desc.steps, stale=stale, source_attempt=source.get("attempt"), parameters=desc.parameters))
    artifacts = artifact_summaries(capture.get("artifacts"))
    split = source.get("split") or {}
    stdout, ignored = _ignored_decorators(stdout)
    # Metaflow names the dropped decorators of every step of the flow: only this step's matter
    ignored = [d for d in ignored if d in desc.step(step).get("decorators", [])]
    notes = list(source.get("notes") or [])
    for path, error in (task.get("card_errors") or {}).items():
        default = Path(path).name.startswith("default")  # Metaflow's default card needs a persisted task
        notes.append(f"Metaflow could not render the card {Path(path).name} under this spin: {error}"
                     + (" (with persist=true the default card renders)" if default and not persist else ""))
    if ignored and not (failure and "without @catch" in failure.summary):
        them = "it" if len(ignored) == 1 else "them"
        notes.append(f"Metaflow ran {step} without {' and '.join('@' + d for d in ignored)}: spin ignores {them} "
                     f"(a run applies {them}).")
    return models.SpinResult(
        flow=desc.name,
        step=step,
        status=status,
        pathspec=task.get("pathspec"),
        source_task=source.get("task_pathspec"),  # none when the spin stopped before choosing
        source_run_choice=source.get("run_chosen"),
        split_index=split.get("index"),
        split=splits.label(split) or None,
        duration_s=data.get("elapsed_s"),
        persisted=persist and status == "succeeded",
        artifacts=artifacts,
        stdout_tail=logs.tail_text(stdout, max_lines=STDOUT_TAIL_LINES),
        failure=failure,
        stale_upstream=stale or [],
        artifacts_listed=bool(capture),
        warm=ran.warm,
        path_note=ran.path_note,
        cards=sorted(app.config.relative(path) for path in task.get("cards") or []),
        notes=notes,
        warnings=shown_warnings.lines(ran.captures, app.config.root, step=step),
    )


# Metaflow prints this once per process for each decorator spin drops (2.19.39, runtime.py)
_IGNORED = re.compile(r"^\[Warning\] Ignoring Step decorator '(\w+)' as it is not supported in spin steps\.$")


def _ignored_decorators(stdout: str) -> tuple[str, list[str]]:
    """The step's output without Metaflow's repeated notices of the decorators spin ignores, and
    those decorators' names (said once, as a note)."""
    kept, ignored = [], []
    for line in stdout.splitlines():
        match = _IGNORED.match(line.strip())
        if match is None:
            kept.append(line)
        elif match.group(1) not in ignored:
            ignored.append(match.group(1))
    return ("\n".join(kept), ignored) if ignored else (stdout, [])


def render(r: models.SpinResult) -> str:
    """A failure leads with its headline (file:line in func — Type: message); a success with the step."""
    took = f" in {r.duration_s:.2f} s" if r.duration_s is not None else ""
    status = f"spin {r.step} {r.status}{took} ({'warm worker' if r.warm else 'new interpreter'})"
    if r.source_task and r.pathspec:  # no pathspec: the spin never started (the flow did not load)
        which = f", {r.split}" if r.split else ""
        status += f" — parent state from {r.source_task}{which} ({r.source_run_choice})"
    lines = [r.failure.summary, status] if r.failure else [status]
    if r.path_note:
        lines.append(r.path_note if r.warm else f"Not warm: {r.path_note}.")
    lines.extend(r.notes)
    if r.artifacts:
        lines.append("Artifacts set by the step:")
        for a in r.artifacts[:MAX_ARTIFACTS_SHOWN]:
            lines.append(f"  {a.name} = {a.summary}" + ("" if a.change in ("created", None) else f" ({a.change})"))
            detail = a.detail.splitlines()
            lines.extend("      " + d for d in detail[:DETAIL_LINES_SHOWN])
            if len(detail) > DETAIL_LINES_SHOWN:
                more = len(detail) - DETAIL_LINES_SHOWN
                lines.append(f"      … {more} more lines (inspect_artifact(\"{r.pathspec}\", \"{a.name}\") shows them)"
                             if r.persisted else
                             f"      … {more} more lines (not kept: this spin was not persisted; spin with "
                             "persist=true to read them with inspect_artifact)")
        if len(r.artifacts) > MAX_ARTIFACTS_SHOWN:
            lines.append(f"  … {len(r.artifacts) - MAX_ARTIFACTS_SHOWN} more artifacts")
    elif r.status == "succeeded":
        lines.append("The step set no artifacts." if r.artifacts_listed else
                     "Artifacts set by the step: not known (flowmcp's step hook did not run; see below).")
    # a failure's summary already tells its step's warnings
    lines.extend(w for w in r.warnings if not (r.failure and w in r.failure.summary))
    if r.stdout_tail:
        lines.append("stdout:\n" + _indent(r.stdout_tail))
    for index, card in enumerate(r.cards):  # in name order, as list_cards and view_card number them
        lines.append(f"Card: {card} — see it: view_card(pathspec=\"{r.pathspec}\", index={index})")
    if r.status == "succeeded":
        if r.persisted:
            lines.append(f"Persisted: inspect_artifact(\"{r.pathspec}\", name) reads these outputs.")
        lines.append(f"Next: {r.next_call}")
    else:
        lines.append(f"Next: {r.next_call}")
    return "\n".join(lines)


def _recorded_by_source(app: App, desc: FlowDescription, step: str, versions: dict[str, str],
                        source_task: str | None) -> bool:
    """Whether the run the spin took its state from ran this very code of the step (flowmcp
    recorded that run's step versions): its outputs are recorded already."""
    if not source_task or step not in versions:
        return False
    recorded = app.state.run_versions(desc.key, Pathspec.parse(source_task).run) or {}
    return recorded.get(step) == versions[step]


def next_after_success(r: models.SpinResult, desc: FlowDescription, recorded: bool = False) -> str:
    """Record the step: resume from it reuses the steps before it from the run the spin took its
    state from — a whole run when there are none (the entry step), when its upstream changed
    since, or when no run has succeeded yet; nothing to record when that run ran this very code."""
    then = "" if not desc.step(r.step).get("next") else ", then spin the next step"
    first = desc.steps[0]["name"] if desc.steps else None
    source = Pathspec.parse(r.source_task) if r.source_task else None
    if recorded and source is not None and not r.stale_upstream:
        nxt = desc.step(r.step).get("next") or []
        return (f"nothing to record: {source.run_pathspec} ran this very code of {r.step}"
                + (f"; go on with the next step ({', '.join(nxt)})." if nxt else "."))
    if source is None or r.stale_upstream or r.step == first:
        return f"run(flow) to record this step's outputs{then}."
    if r.source_run_choice and r.source_run_choice.startswith("latest (no successful"):
        return f"run(flow) to record this step's outputs (no run has succeeded yet){then}."
    return (f"resume(flow, run=\"{source.run}\", step=\"{r.step}\") to record this step's outputs (it reuses the "
            f"steps before it){then}.")


def next_after_failure(failure: models.Failure | None, step: str) -> str:
    """What to do after a failed spin: fix the step only when the step's code is what failed."""
    origin = failure.origin if failure else "step"
    if origin == "flow":
        where = f"{failure.file}:{failure.line} as the message says" if failure.file and failure.line else \
            f"what the message names (not {step}'s code)"
        return f"the flow failed before {step} ran: fix {where}, then spin again."
    if origin == "metaflow":
        return f"nothing to fix in {step}: run(flow) runs it, then spin the next step."
    if origin == "retry":
        return (f"run(flow) runs {step} with its @retry, as it succeeded in the run before; fix the step only if "
                "that run fails.")
    if failure is not None and failure.fix_at:
        return f"fix {failure.fix_at}, and spin {step} again."
    return f"fix the step and spin {step} again."


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
