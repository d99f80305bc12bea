"""A failure drawn for the agent: headline first, the user's line with a caret, hints, values,
then the trace with library frames folded — within a budget."""

from __future__ import annotations

from . import splits
from .failure_data import CALLED_FROM, Failure, Frame
from .text import cut_middle

MAX_CHARS = 1200  # the failure summary; the answer around it adds a status line and the next step
MAX_USER_FRAMES = 6
MAX_VALUES = 8
MACHINERY = {"metaflow", "flowmcp", "driver.py"}  # what runs the step: Metaflow (click is vendored in it), us


def render(failure: Failure, budget: int = MAX_CHARS) -> str:
    """Headline, the user's line with a caret, did-you-mean, values, then the condensed trace."""
    parts = [failure.headline()]
    where = failure.shown_where
    if where is not None and where.code:
        parts.append("    " + where.code)
        # A caret under the whole line says nothing (Python's own tracebacks leave it out too).
        spans_line = where.col == 0 and where.end_col is not None and where.end_col >= len(where.code)
        if where.col is not None and where.end_col and where.end_col > where.col and not spans_line:
            parts.append("    " + " " * where.col + "^" * (where.end_col - where.col))
    if failure.split:
        parts.append("Foreach " + splits.label(failure.split))
    parts.extend(failure.hints)
    if failure.values:
        shown = list(failure.values.items())[:MAX_VALUES]
        parts.append("Values: " + "; ".join(f"{k} = {v}" for k, v in shown))
    for note in failure.notes:
        parts.append("Note: " + note)
    parts.extend(failure.chain)
    parts.extend(failure.warnings)
    trace = render_trace(failure.frames) if where is not None or failure.origin != "flow" else ""
    if trace and not (where is not None and set(trace.split(" → ")) <= _frames_said(failure, where)):
        parts.append("Trace: " + trace)
    text = "\n".join(parts)
    return cut_middle(text, budget)


def _frames_said(failure: Failure, where: Frame) -> set[str]:
    """The frames the answer names already: the headline's, and the step's line that called a
    helper (summarize/chain.py). A trace of those alone repeats them."""
    said = {f"{where.file}:{where.line} in {where.func}"}
    for hint in failure.hints:
        if hint.startswith(CALLED_FROM):
            said.add(hint[len(CALLED_FROM):].split(": ", 1)[0])
    return said


def render_trace(frames: list[Frame]) -> str:
    """User frames as `file:line in func`, runs of library frames as `… N frames in pandas`.

    Metaflow's own frames (and click's under it) say nothing the agent can act on: they are left
    out, unless nothing else would remain (never an empty trace)."""
    visible = [f for f in frames if f.hidden or f.library not in MACHINERY]
    frames = visible if any(not f.hidden for f in visible) else frames
    out: list[str] = []
    lib_run: list[Frame] = []

    def flush():
        if lib_run:
            libs = sorted({f.library for f in lib_run})
            n = len(lib_run)
            out.append(f"… {n} frame{'s' if n > 1 else ''} in {', '.join(libs)}")
            lib_run.clear()

    user_frames = [f for f in frames if f.user]
    keep = set(map(id, user_frames[:2] + user_frames[-(MAX_USER_FRAMES - 2):]))
    skipped_user = 0
    for f in frames:
        if f.hidden:
            flush()
            out.append(f"… {f.hidden} frames hidden")
            continue
        if not f.user:
            lib_run.append(f)
            continue
        flush()
        if id(f) not in keep:
            skipped_user += 1
            continue
        if skipped_user:
            out.append(f"… {skipped_user} user frames")
            skipped_user = 0
        rep = f" (repeated {f.repeated:,} times)" if f.repeated > 1 else ""
        out.append(f"{f.file}:{f.line} in {f.func}{rep}")
    # Frames below the last user frame are where the error was raised inside a library: keep them
    flush()
    # The frames above the user's first one are the machinery that called it (Metaflow, click,
    # the loader): noise for the agent.
    if len(out) > 1 and out[0].startswith("… ") and " in " in out[0] and user_frames:
        out.pop(0)
    return " → ".join(out)
