"""Where a failure is read from, the most structured source first: the live exception the step
hook captured (`from_capture`), a task whose artifact could not be saved, Metaflow's own error,
a printed traceback, an exit status. Each gives a `Failure` (failure_data.py)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from . import chain, hints, rules
from .failure_data import Failure, Frame

_TRACE_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
# The exception line after the frames: `ValueError: msg`, `pkg.Error: msg`, or a bare `StopIteration`
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?:: ?(?P<msg>.*))?$")


def from_capture(record: dict, root: Path, *, step: str | None = None, task: str | None = None,
                 flow_file: Path | None = None, spin: bool = False, graph: list[dict] | None = None,
                 stale: list[str] | None = None, parameters: list[dict] | None = None) -> Failure:
    """From the hook's record of the live exception in the step process (the best source).
    `parameters`: the flow's Parameters as declared, to compare with the values the step saw."""
    exc = record.get("exception") or record
    failure = _from_exception_record(exc, root)
    failure.step = step or record.get("step")
    failure.task = task
    failure.split = record.get("split")
    if exc.get("type") == "TimeoutException" and exc.get("module", "").startswith("metaflow"):
        _timed_out(failure)
    failure.hints.extend(hints.hints_for(exc, record.get("available"), failure, flow_file, root, spin,
                                         graph=graph, stale=stale))
    if exc.get("type") != "MissingInMergeArtifactsException":  # those names have no value to compare
        failure.hints.extend(_merge_conflict(record.get("merge_values")))
    rules.apply(failure, record, exc, parameters=parameters, graph=graph, flow_file=flow_file)
    chain.helper_chain(failure, flow_file, root)
    missing = exc.get("attr_name")
    if exc.get("type") == "AttributeError" and failure.values.get(f"self.{missing}") == "<missing>":
        del failure.values[f"self.{missing}"]  # the headline already says so
    return failure


def _timed_out(failure: Failure) -> None:
    """@timeout: Metaflow's message carries a dump of the stack, which the trace already shows."""
    failure.message = failure.message.split("\n", 1)[0]
    failure.message_chars = len(failure.message)
    where = failure.where
    at = f" while it ran {where.file}:{where.line}" if where is not None and where.user else ""
    failure.hints.append(f"@timeout stopped the step{at}: make that part faster, or raise the step's "
                         "@timeout limit.")


MAX_MERGE_LINES = 3


def _merge_conflict(values: dict | None) -> list[str]:
    """merge_artifacts could not merge: which input holds which value, and the two ways out."""
    if not values:
        return []
    lines = []
    for name, rows in list(values.items())[:MAX_MERGE_LINES]:
        lines.append(f"{name}: " + "; ".join(f"{label} = {value}" for label, value in rows))
    names = list(values)
    lines.append(f"Set self.{names[0]} in the join before merge_artifacts (from the input you want), or "
                 f"pass exclude={names!r} and leave it unset.")
    return lines


def from_persist_error(record: dict, root: Path, *, step: str | None = None, task: str | None = None,
                       flow_file: Path | None = None) -> Failure:
    """The step function returned, then Metaflow could not save an artifact (it cannot be
    pickled): point at the line of the step that assigned it, and say what it holds."""
    failure = _from_exception_record(record["persist_error"], root)
    failure.step, failure.task = step or record.get("step"), task
    failure.frames = [f for f in failure.frames if f.user]  # Metaflow's saving code: not where to look
    failure.chain = []  # pickle's own complaint: the hint says what the value is
    unsaved = record.get("unsaved") or {}
    name = unsaved.get("name")
    setters = [(s, ln) for s, ln in hints.assignments(flow_file).get(name, [])
               if s == failure.step] if flow_file is not None and name else []
    if setters:
        _, line = setters[-1]
        failure.frames.append(Frame(file=_rel(flow_file, root), line=line, func=failure.step or "",
                                    code=_source_line(Path(flow_file), line), user=True))
    if name:
        failure.hints.append(_unpicklable_hint(name, unsaved.get("type") or "?"))
    return failure


def _unpicklable_hint(name: str, kind: str) -> str:
    short = kind.rsplit(".", 1)[-1]
    if short in ("function", "lambda", "method", "builtin_function_or_method", "partial"):
        what, fix = "a function", "keep it a local variable or a module-level function, and store its inputs instead"
    elif short in ("TextIOWrapper", "BufferedReader", "BufferedWriter", "FileIO", "BufferedRandom"):
        what, fix = "an open file", "store the file's path or its contents, and open it where it is used"
    elif short == "generator":
        what, fix = "a generator", "store list(...) of it"
    else:
        what, fix = f"a {short}", "store the data it is made from, and rebuild it where it is used"
    return (f"self.{name} holds {what} ({kind}), which pickle cannot save: Metaflow saves every self.X when "
            f"the step ends. {fix[0].upper() + fix[1:]}.")


def _from_exception_record(exc: dict, root: Path) -> Failure:
    frames = [_frame(f, root) for f in exc.get("frames", [])]
    syntax = exc.get("syntax")
    if syntax and syntax.get("file"):
        # The error is in the user's source, not in the frame that compiled it.
        frames.append(
            Frame(
                file=_rel(syntax["file"], root),
                line=syntax.get("line"),
                func="<module>",
                code=(syntax.get("text") or "").strip(),
                user=_inside(syntax["file"], root),
                col=_syntax_col(syntax),
                end_col=_syntax_end_col(syntax),
            )
        )
    message = (syntax or {}).get("msg") or exc.get("message", "")
    if str(exc.get("module") or "").startswith("metaflow"):
        message = " ".join(plain_metaflow_text(message).split())  # wrapped for a terminal
    failure = Failure(
        exception_type=exc.get("type", "Exception"),
        message=message,
        message_chars=exc.get("message_chars", len(exc.get("message", ""))),
        frames=frames,
        notes=list(exc.get("notes") or []),
        source="capture",
    )
    for raw in exc.get("frames", []):
        # Most telling first: the subscripted values on the line, then self.X, then locals.
        for name, summary in (raw.get("subscript_values") or {}).items():
            failure.values[name] = summary
        for name, summary in (raw.get("self_values") or {}).items():
            failure.values.setdefault(f"self.{name}", summary)
        for name, summary in (raw.get("locals") or {}).items():
            failure.values.setdefault(name, summary)
    for key in ("cause", "context"):
        linked = exc.get(key)
        label = "caused by" if key == "cause" else "while handling"
        while linked and len(failure.chain) < 3:
            inner = _from_exception_record(linked, root)
            # A library re-raising from its internals adds nothing: the same type, or its message
            # already in the outer one (Metaflow's "not iterable. Please check details: <inner>"; a
            # recarray's AttributeError over its KeyError 'name').
            internal = not any(f.user for f in inner.frames) and (
                inner.exception_type == failure.exception_type or inner.message.strip("'\"") in failure.message)
            if not internal:
                failure.chain.append(f"{label} {inner.headline()}")
            linked = linked.get("cause") or linked.get("context")
    return failure


_NO_NEXT = re.compile(r"step (?P<step>\w+) was expected to transition to step\(s\) (?P<to>[\w, ]+)\. However, when the "
                      r"code was executed, self\.next\(\) was called with nothing")


def _ended_without_next(failure: Failure, root: Path, flow_file: Path | None) -> None:
    """Metaflow's runtime found that a step ended without its self.next(): point at the early
    return that skipped it. (spin does not check this; only a run does.)"""
    match = _NO_NEXT.search(failure.message)
    if match is None or flow_file is None:
        return
    step, to = match.group("step"), match.group("to")
    failure.step, failure.origin = step, "step"
    returns = hints.early_returns(flow_file, step)
    if returns:
        line = returns[0]
        failure.frames = [Frame(file=_rel(flow_file, root), line=line, func=step,
                                code=_source_line(Path(flow_file), line), user=True)]
        failure.hints.insert(0, f"{step} returned at {_rel(flow_file, root)}:{line} before calling "
                                f"self.next(self.{to.split(',')[0].strip()}): every path through a step must end in "
                                "its self.next(...) call. spin does not check this; run does.")
    else:
        failure.hints.insert(0, f"{step} ended without calling self.next(self.{to.split(',')[0].strip()}) on the path "
                                "it took: every path through a step must end in its self.next(...) call.")


def from_metaflow_error(err: dict, root: Path, steps: list[str] | None = None,
                        flow_file: Path | None = None) -> Failure:
    """From a MetaflowException caught in the CLI process (graph errors, bad pathspecs)."""
    frames = []
    if err.get("file") and err.get("line"):
        code = _source_line(Path(err["file"]), err["line"])
        frames.append(Frame(file=_rel(err["file"], root), line=err["line"], func="", code=code, user=True))
    message = " ".join((err.get("message") or "").split())
    headline = (err.get("headline") or "").strip()
    failure = Failure(
        exception_type=err.get("type") or "MetaflowException",
        message=plain_metaflow_text(f"{headline}: {message}" if headline and headline not in message else message),
        frames=frames,
        source="metaflow",
        origin="flow",  # raised by Metaflow's CLI before or around the steps: never the step's own code
    )
    environment = hints.environment_hint(message)
    _ended_without_next(failure, root, flow_file)
    if environment:
        failure.hints.append(environment)
    elif steps and "step" in message.lower() and failure.origin == "flow":  # a graph problem: say what exists
        failure.hints.append("The flow's steps: " + ", ".join(steps) + ".")
    return failure


def from_traceback_text(text: str, root: Path) -> Failure | None:
    """Fallback: parse the last printed traceback (Task.stderr, a run's output)."""
    lines = text.splitlines()
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip().startswith("Traceback (most recent call last)"):
            start = i
            break
    if start is None:
        return None
    frames: list[Frame] = []
    exc_type, message = None, ""
    i = start + 1
    while i < len(lines):
        m = _TRACE_FRAME.match(lines[i])
        if m:
            file = m.group("file")
            line = int(m.group("line"))
            # Metaflow's log strips characters (`*`) from printed code: read it from the file.
            code = _source_line(Path(file), line) or (lines[i + 1].strip() if i + 1 < len(lines) else "")
            frames.append(Frame(file=_rel(file, root), line=line, func=m.group("func").strip(),
                                code=code, user=_inside(file, root)))
            i += 1
            continue
        e = _EXC_LINE.match(lines[i].strip())
        if e and not lines[i].startswith(" "):
            exc_type, message = e.group("type"), e.group("msg") or ""
            rest = []
            for extra in lines[i + 1:]:
                if not extra.strip() or extra.strip() in ("Task failed.",):
                    break
                rest.append(extra)
            if rest:
                message = "\n".join([message] + rest)
            break
        i += 1
    if exc_type is None:
        return None
    return Failure(exception_type=exc_type.split(".")[-1], message=message, frames=frames,
                   message_chars=len(message), source="traceback")


def from_exit(step: str | None, exit_text: str, memory: dict | None = None, code: int | None = None) -> Failure:
    """A step that died without a Python exception: a signal or an exit code (`code`, as
    Metaflow's runtime recorded it, else read from its words). `memory`: the job's `oom_kills`
    and `memory_limit` when the kernel's OOM killer acted during it."""
    m = re.search(r"return code (-?\d+)", exit_text)
    code = code if code is not None else int(m.group(1)) if m else None
    if code is None and "segmentation fault" in exit_text:
        code = -signal.SIGSEGV  # Metaflow's words for a task that died of SIGSEGV
    if code is not None:
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            failure = Failure("Killed", f"the step process was killed by {name} ({-code})", step=step,
                              source="exit")
            if -code == signal.SIGKILL:
                failure.hints.append(_killed_hint(memory or {}))
            elif -code == signal.SIGSEGV:
                failure.hints.append("A segmentation fault is a crash in compiled code (a library's C extension, "
                                     "ctypes), not a Python error: check the versions of the native libraries the "
                                     "step calls, and the arguments it passes them.")
            return failure
        return Failure("Exit", f"the step process exited with code {code}", step=step, source="exit")
    said = [line.strip() for line in exit_text.splitlines() if line.strip()][-3:]
    if said:  # Metaflow's own last words: the best reason there is
        return Failure("Failed", plain_metaflow_text(" / ".join(said)), step=step, source="exit")
    return Failure("Failed", "the step stopped and neither it nor Metaflow said why", step=step, source="exit")


def _killed_hint(memory: dict) -> str:
    if memory.get("oom_kills"):
        limit = memory.get("memory_limit")
        allowed = f" ({limit / 2**30:.1f} GiB here)" if limit else ""
        return ("The kernel's OOM killer stopped it: the step needed more memory than this machine or container "
                f"allows{allowed}. Use less (fewer rows or columns at once, smaller dtypes, chunks), or run it "
                "where there is more (@resources(memory=...) on a compute layer).")
    return ("Nothing in the step caught it: SIGKILL usually means the machine ran out of memory, or something "
            "killed the process.")


_MARKUP = re.compile(r"\*([^*\s][^*]*?)\*")
_DOUBLE_COLON = re.compile(r"(line \d+):(?=:)")


def plain_metaflow_text(text: str) -> str:
    """Metaflow's messages as plain text: its `*bold*` markup and the doubled colon of
    `file:line 8:` + `: message` are for a terminal, not for an agent (`with **` is the markup
    of an empty list: "called with nothing")."""
    text = text.replace("called with **", "called with nothing")
    return _DOUBLE_COLON.sub(r"\1", _MARKUP.sub(r"\1", text))


def _frame(raw: dict, root: Path) -> Frame:
    if raw.get("hidden"):
        return Frame(file="", line=None, func="", hidden=raw["hidden"])
    file = raw.get("file", "?")
    code = raw.get("code") or ""
    return Frame(
        file=_rel(file, root),
        line=raw.get("line"),
        func=raw.get("func", "?"),
        code=code.strip(),
        user=bool(raw.get("user")),
        col=raw.get("col"),
        end_col=raw.get("end_col"),
        repeated=raw.get("repeated", 1),
    )


def _syntax_col(syntax: dict) -> int | None:
    text, offset = syntax.get("text") or "", syntax.get("offset")
    if offset is None:
        return None
    indent = len(text) - len(text.lstrip())
    return max(offset - 1 - indent, 0)


def _syntax_end_col(syntax: dict) -> int | None:
    col = _syntax_col(syntax)
    if col is None:
        return None
    text, end = syntax.get("text") or "", syntax.get("end_offset")
    indent = len(text) - len(text.lstrip())
    if end and end - 1 - indent > col:
        return end - 1 - indent
    return col + 1


def _rel(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except (ValueError, OSError):
        return str(path)


def _inside(path: str, root: Path) -> bool:
    try:
        real = Path(path).resolve()
    except OSError:
        return False
    return (root in real.parents) and "site-packages" not in real.parts and ".venv" not in real.parts


def _source_line(path: Path, line: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return text.strip()
    except OSError:
        pass
    return ""
