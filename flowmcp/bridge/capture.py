"""Turn a live exception into plain data, inside the process where it happened.

Runs in the project's interpreter (the driver and every step process), so it is standard
library only and loaded by file path. Frames, the failing line's column span, the failing user
frame's local values and the exception chain are read from the objects themselves; nothing is
parsed from printed text. The server renders this record (flowmcp.summarize.failure).
"""

from __future__ import annotations

import linecache
import os
import sys

from ..summarize import artifacts as summaries
from ..summarize.text import cut_middle
from . import facts, inside, mismatch

MAX_FRAMES = 60  # frames kept per exception, head and tail; recursion is folded before this
MAX_MESSAGE_CHARS = 4000
MAX_LOCALS = 12
CHAIN_DEPTH = 3
METAFLOW_STACK_DUMP = "\nStack when the timeout was raised"  # checked: 2.19.39 (plugins/timeout_decorator.py)

# flowmcp's own folder: its frames (the step hook wrapping the step function, the driver) are
# neither the user's nor Metaflow's.
_FLOWMCP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SITE_MARKERS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def project_root():
    return os.environ.get("FLOWMCP_ROOT") or os.getcwd()


def is_user_file(filename, root=None):
    """A file of the user's project: under the root, not an installed package."""
    if not filename or filename.startswith("<") or not filename.endswith(".py"):
        return False  # Cython (`pandas/_libs/x.pxi`) reports relative names that are not ours
    root = root or project_root()
    path = os.path.realpath(filename)
    if any(m in path for m in _SITE_MARKERS):
        return False
    if os.sep + ".venv" + os.sep in path or os.sep + "flowmcp" + os.sep + "bridge" + os.sep in path:
        return False
    return path == root or path.startswith(os.path.realpath(root).rstrip(os.sep) + os.sep)


def bounded_message(text, limit=MAX_MESSAGE_CHARS):
    return cut_middle(text, limit)


def safe_str(obj):
    try:
        return str(obj)
    except Exception as ex:  # never fail while describing a failure
        return "<unavailable: %s>" % type(ex).__name__


def _frame_records(tb, root):
    frames = []
    while tb is not None:
        frame, code = tb.tb_frame, tb.tb_frame.f_code
        tb_next = tb.tb_next
        if os.path.abspath(code.co_filename).startswith(_FLOWMCP_DIR):
            tb = tb_next
            continue
        lineno = tb.tb_lineno
        raw = linecache.getline(code.co_filename, lineno, frame.f_globals)
        rec = {
            "file": code.co_filename,
            "line": lineno,
            "func": code.co_name,
            "code": raw.strip(),
            "user": is_user_file(code.co_filename, root),
        }
        span = _column_span(code, tb.tb_lasti)
        if span is not None and raw:
            indent = len(raw) - len(raw.lstrip())
            rec["col"], rec["end_col"] = max(span[0] - indent, 0), max(span[1] - indent, 0)
        frames.append((frame, rec))
        tb = tb_next
    return frames


def _column_span(code, lasti):
    """Columns of the failing expression on one line (3.11+ code positions), else None."""
    positions = getattr(code, "co_positions", None)
    if positions is None or lasti < 0:
        return None
    try:
        for i, pos in enumerate(positions()):
            if i == lasti // 2:
                line, end_line, col, end_col = pos
                if line == end_line and col is not None and end_col is not None and end_col > col:
                    return col, end_col
                return None
    except Exception:
        return None
    return None


def _where(rec):
    return rec["file"], rec["line"], rec["func"]


def _fold_recursion(frames):
    """Fold a run of identical (file, line, func) frames: recursion shown once with a count."""
    out = []
    i = 0
    while i < len(frames):
        key = _where(frames[i][1])
        j = i
        while j + 1 < len(frames) and _where(frames[j + 1][1]) == key:
            j += 1
        if j > i:
            frames[i][1]["repeated"] = j - i + 1
        out.append(frames[i])
        if j > i:
            out.append(frames[j])  # keep the deepest one: its locals are the interesting ones
        i = j + 1
    return out


def _self_names_on_line(code):
    """`self.X` read on the line; a plain `self.X = ...` target is being set, not read."""
    import re

    code = code or ""
    assigned = set(re.findall(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", code))
    targets = re.match(r"^\s*((?:(?:self\.)?[A-Za-z_][A-Za-z0-9_]*\s*,\s*)+(?:self\.)?[A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)",
                       code)
    if targets:  # `self.a, self.b = ...` sets both
        assigned.update(re.findall(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)", targets.group(1)))
    used = set(re.findall(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)", code))
    return sorted(used - assigned)


def exception_record(ex, root=None, flow=None, depth=0, _seen=None):
    """Plain-data record of `ex`: type, message, frames, locals of the failing user frame, chain."""
    root = root or project_root()
    _seen = _seen if _seen is not None else set()
    _seen.add(id(ex))
    message = safe_str(ex)
    if type(ex).__module__.startswith("metaflow"):
        # @timeout's message carries a dump of the stack, which the frames already hold
        message = message.split(METAFLOW_STACK_DUMP)[0]
    rec = {
        "type": type(ex).__name__,
        "module": type(ex).__module__,
        "message": bounded_message(message),
        "message_chars": len(message),
    }
    notes = getattr(ex, "__notes__", None)
    if notes:
        rec["notes"] = [bounded_message(safe_str(n), 500) for n in list(notes)[:5]]
    if isinstance(ex, SyntaxError):
        rec["syntax"] = {
            "file": ex.filename,
            "line": ex.lineno,
            "text": (ex.text or "").rstrip("\n"),
            "offset": ex.offset,
            "end_offset": getattr(ex, "end_offset", None),
            "msg": ex.msg,
        }
    if isinstance(ex, KeyError) and ex.args:
        rec["key"] = summaries.one_line(ex.args[0], 120)
    if isinstance(ex, AttributeError):
        rec["attr_name"] = getattr(ex, "name", None) or _attr_from_message(safe_str(ex))
    if isinstance(ex, ModuleNotFoundError):
        rec["module_name"] = getattr(ex, "name", None)
        rec["interpreter"] = sys.executable
    frames = _frame_records(ex.__traceback__, root) if ex.__traceback__ else []
    frames = _fold_recursion(frames)
    if len(frames) > MAX_FRAMES:
        hidden = len(frames) - MAX_FRAMES
        frames = frames[: MAX_FRAMES // 2] + [(None, {"hidden": hidden})] + frames[-MAX_FRAMES // 2 :]
    user = [(f, r) for f, r in frames if r.get("user")]
    if user and depth == 0:
        frame, last = user[-1]
        last["locals"] = _locals_of(frame)
        names = _self_names_on_line(last.get("code"))
        self_obj = frame.f_locals.get("self") if frame is not None else None
        if names and self_obj is not None:
            last["self_values"] = _self_values(self_obj, names)
        code = last.get("code") or ""
        if frame is not None:
            subscripts = _literal_subscripts(frame, code)
            if subscripts:
                last["subscript_values"] = subscripts
            found = mismatch.facts(ex, frame, last, [f for f, _ in frames]) + facts.data_facts(ex, frame, code)
            if found:
                rec["data_facts"] = found
    if depth == 0:
        frame, code = (user[-1][0], user[-1][1].get("code") or "") if user else (None, "")
        raised = frames[-1] if frames and frames[-1][0] is not None else None
        found = inside.suggestions(ex, frame, user[-1][1] if user else {}, raised) or facts.suggestions(
            ex, frame, code, _innermost_frame(ex.__traceback__), root)
        if found:
            rec["suggestions"] = found
    rec["frames"] = [r for _, r in frames]
    if depth < CHAIN_DEPTH:
        cause = ex.__cause__
        context = None if ex.__suppress_context__ else ex.__context__
        for key, linked in (("cause", cause), ("context", context)):
            if linked is not None and id(linked) not in _seen:
                rec[key] = exception_record(linked, root, depth=depth + 1, _seen=_seen)
                break
    return rec


# ---------------------------------------------------------------- facts read from live objects


def _innermost_frame(tb):
    """The frame the exception was raised in (where a NameError looked its name up)."""
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame


_NAME = r"(self\.[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*)"


def _literal_subscripts(frame, code):
    """Summaries of `name["literal"]` values on the failing line — the column that has the wrong
    dtype, the entry that is None. Literal keys only; nothing is evaluated."""
    import ast
    import re

    out = {}
    for expr, literal in re.findall(_NAME + r"\s*\[\s*((?:'[^'\\]*'|\"[^\"\\]*\"|-?\d+))\s*\]", code):
        key_text = "%s[%s]" % (expr, literal)
        if key_text in out:
            continue
        try:
            value = facts.lookup(frame, expr)[ast.literal_eval(literal)]
        except Exception:
            continue
        out[key_text] = summaries.one_line(value)
        if len(out) >= 4:
            break
    return out


def _attr_from_message(message):
    import re

    match = re.search(r"has no attribute '([^']+)'", message)
    return match.group(1) if match else None


def _locals_of(frame):
    out = {}
    if frame is None:
        return out
    try:
        items = list(frame.f_locals.items())
    except Exception:
        return out
    for name, value in items:
        if name == "self" or name.startswith("__") or not name.isidentifier():
            continue  # `.0` and friends: the hidden iterators of comprehensions
        if isinstance(value, type) or type(value).__name__ in ("module", "function", "builtin_function_or_method"):
            continue  # imports and definitions, not data
        if len(out) >= MAX_LOCALS:
            out["…"] = "%d more locals" % (len(items) - MAX_LOCALS)
            break
        out[name] = summaries.one_line(value)
    return out


def _self_values(obj, names):
    """Summaries of the `self.X` names used on the failing line; missing ones say so."""
    out = {}
    for name in names[:MAX_LOCALS]:
        try:
            present = name in vars(obj)
        except Exception:
            present = False
        if present:
            out[name] = summaries.one_line(vars(obj)[name])
            continue
        try:
            if isinstance(getattr(type(obj), name, None), property):
                continue
            value = getattr(obj, name)  # a parent artifact loads lazily from the datastore
        except AttributeError:
            out[name] = "<missing>"
            continue
        except Exception as ex:
            out[name] = "<unavailable: %s>" % type(ex).__name__
            continue
        if callable(value):
            continue
        out[name] = summaries.one_line(value)
    return out
