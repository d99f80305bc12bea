"""Python's own values: numbers, text, bytes, collections, records, objects, exceptions, code."""

import collections
import collections.abc
import dataclasses
import itertools
import sys
import types

from .dispatch import (
    _brief,
    _inline,
)
from .plumbing import (  # noqa: F401
    _KEY_REPR,
    _MAGIC,
    MAGIC_BYTES,
    MAX_ATTRS_SHOWN,
    MAX_BRIEF_CHARS,
    MAX_CELL_CHARS,
    MAX_INLINE_FIELDS,
    MAX_INT_BITS,
    MAX_ITEMS_SHOWN,
    MAX_KEYS_SHOWN,
    MAX_LINE_SCAN_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_REPR_LEN,
    MAX_STR_HEAD,
    MAX_TEXT_SHOWN,
    MAX_TRACE_LINES,
    MAX_TYPES_SHOWN,
    TYPE_SAMPLE_SIZE,
    _counted,
    _cut,
    _dotted,
    _has,
    _human_size,
    _is_huge_int,
    _label,
    _number_text,
    _ok,
    _Parts,
    _qualified_name,
    _safe,
    _safe_repr,
    _safe_str,
    _str_head,
    _top_module,
    _type_mro,
    _type_vars,
    _Unavailable,
)


def _summarize_number(value, depth):
    if value is None:
        return _Parts("None")
    text = _number_text(value)
    return _Parts(text if _is_huge_int(value) else f"{_label(type(value))} {text}")






def _summarize_short_repr(value, depth):
    return _Parts(_safe_repr(value))


def _summarize_str(value, depth):
    n = len(value)
    headline = f"{_label(type(value))}, {n:,} chars: {_str_head(value, MAX_STR_HEAD, note=False)}"
    parts = _Parts(headline, shape=[n], size_bytes=sys.getsizeof(value))
    if depth or n <= MAX_STR_HEAD:
        return parts
    parts.lines.append(f"starts: {_str_head(value, MAX_TEXT_SHOWN)}")
    if n <= MAX_LINE_SCAN_CHARS:
        parts.lines.append(f"lines: {value.count(chr(10)) + 1:,}")
    return parts


def _summarize_bytes(value, depth):
    view = value if type(value) is memoryview else memoryview(value)
    nbytes = view.nbytes
    head = _head_bytes(view)
    label = f"{_label(type(value))}, {_human_size(nbytes)}"
    if nbytes and _ok(head) and nbytes <= len(head):
        return _Parts(f"{label}: {head!r}", shape=[nbytes], size_bytes=nbytes)
    kind = _guess_format(head, nbytes) if _ok(head) else str(head)
    parts = _Parts(f"{label}, {kind}", shape=[nbytes], size_bytes=nbytes)
    if not depth and nbytes and _ok(head):
        # marked as cut: a secret's start (bytes of a token) is then redacted as the whole
        parts.lines.append(f"first {len(head)} bytes: {head!r}…")
    return parts


def _head_bytes(view):
    """The first MAGIC_BYTES bytes, copying nothing else: a 50 MB blob costs no more than 50 B."""
    if view.c_contiguous:
        return view.cast("B")[:MAGIC_BYTES].tobytes()
    return _Unavailable(ValueError())  # strided views have no cheap first bytes


def _guess_format(head, nbytes):
    if not nbytes:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}[head[8:12]]
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"pickle (protocol {head[1]})"
    text = _as_text(head, truncated=nbytes > len(head))
    if text is None:
        return "binary data"
    if text.lstrip()[:1] in ("{", "["):
        return "JSON-like text"
    return "UTF-8 text"


def _as_text(head, truncated):
    """head decoded if it looks like printable UTF-8; a character split at the cut is forgiven."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.reason == "unexpected end of data"):
            return None
        text = head[: exc.start].decode("utf-8")
    return text if all(ch.isprintable() or ch in "\t\n\r" for ch in text) else None


def _summarize_collection(value, depth):
    tp = type(value)
    n = _safe(len, value)
    sample = _safe(lambda: list(itertools.islice(value, TYPE_SAMPLE_SIZE)))
    if n == 0:
        return _Parts(f"{_label(tp)}, empty", shape=[0])
    mix = _type_mix(sample) if _ok(sample) else str(sample)
    parts = _Parts(f"{_label(tp)} of {n:,} ({mix})", shape=[n] if _ok(n) else None)
    if depth or not _ok(sample):
        return parts
    indexed = issubclass(tp, collections.abc.Sequence)
    parts.lines.extend(_item_lines(sample[:MAX_ITEMS_SHOWN], n, depth, indexed))
    return parts


def _type_mix(sample):
    """`int`, `int ×900, str ×100`, prefixed `first 1,000:` when the sample is not everything."""
    counts = collections.Counter(_label(type(item)) for item in sample)
    common = counts.most_common(MAX_TYPES_SHOWN)
    if len(counts) == 1:
        text = common[0][0]
    else:
        text = ", ".join(f"{name} ×{count:,}" for name, count in common)
    if len(counts) > MAX_TYPES_SHOWN:
        text += f", +{len(counts) - MAX_TYPES_SHOWN} more types"
    return text if len(sample) < TYPE_SAMPLE_SIZE else f"first {len(sample):,}: {text}"


def _item_lines(items, total, depth, indexed):
    more = total - len(items) if _ok(total) else 0
    inline = [_inline(item) for item in items]
    if all(text is not None for text in inline):
        return ["items: " + ", ".join(inline) + (f", … {more:,} more" if more > 0 else "")]
    lines = [
        f"[{i}] {_brief(item, depth + 1)}" if indexed else f"- {_brief(item, depth + 1)}"
        for i, item in enumerate(items)
    ]
    if more > 0:
        lines.append(f"… {more:,} more items")
    return lines


def _summarize_mapping(value, depth):
    tp = type(value)
    n = _safe(len, value)
    if n == 0:
        return _Parts(f"{_label(tp)}, empty", shape=[0])
    # Only a real dict is known to be cheap to index: a user Mapping may load each value lazily.
    sample_size = TYPE_SAMPLE_SIZE if issubclass(tp, dict) else MAX_KEYS_SHOWN
    items = _safe(lambda: list(itertools.islice(value.items(), sample_size)))
    if not _ok(items):
        return _Parts(f"{_label(tp)} of {n:,} ({items})", shape=[n] if _ok(n) else None)
    keys = _type_names(key for key, _ in items)
    values = _type_names(item for _, item in items)
    prefix = "" if len(items) < sample_size else f"first {len(items):,}: "
    parts = _Parts(f"{_label(tp)} of {n:,} ({prefix}{keys} → {values})", shape=[n] if _ok(n) else None)
    if depth:
        return parts
    for key, item in items[:MAX_KEYS_SHOWN]:
        parts.lines.append(f"{_key_text(key)}: {_brief(item, depth + 1)}")
    more = n - min(len(items), MAX_KEYS_SHOWN) if _ok(n) else 0
    if more > 0:
        parts.lines.append(f"… {more:,} more keys")
    return parts


def _type_names(values, limit=3):
    counts = collections.Counter(_label(type(v)) for v in values)
    names = [name for name, _ in counts.most_common(limit)]
    return ", ".join(names) + (", …" if len(counts) > limit else "")


def _key_text(key):
    if type(key) is str:
        return _str_head(key, MAX_CELL_CHARS * 2)
    return _cut(str(_safe(_KEY_REPR.repr, key)), MAX_CELL_CHARS * 2)


def _record_kind(tp):
    if issubclass(tp, tuple) and _has(tp, "_fields"):
        return "namedtuple"
    if _has(tp, "__dataclass_fields__"):
        return "dataclass"
    if _has(tp, "model_fields") and _has(tp, "model_dump"):
        return "pydantic model"
    if _has(tp, "__attrs_attrs__"):
        return "attrs class"
    return None


def _record_fields(tp, kind):
    if kind == "namedtuple":
        return list(tp._fields)
    if kind == "dataclass":
        return [field.name for field in dataclasses.fields(tp)]
    if kind == "pydantic model":
        return list(tp.model_fields)
    return [attribute.name for attribute in tp.__attrs_attrs__]


def _summarize_record(value, depth):
    tp = type(value)
    kind = _record_kind(tp)
    names = _safe(_record_fields, tp, kind)
    if not _ok(names):
        return _Parts(f"{kind} {_label(tp)} {names}")
    if depth:
        return _Parts(_inline_fields(_label(tp), _getattrs(value, names[:MAX_INLINE_FIELDS]), len(names), depth))
    parts = _Parts(f"{kind} {_label(tp)} ({_top_module(tp)}) with {_counted(len(names), 'field')}")
    parts.lines.extend(_pair_lines(_getattrs(value, names[:MAX_ATTRS_SHOWN]), len(names), depth, "fields"))
    return parts


def _getattrs(value, names):
    return [(name, _safe(getattr, value, name)) for name in names]


def _inline_fields(label, pairs, total, depth):
    shown = [f"{name}={_pair_brief(v, depth)}" for name, v in pairs]
    if total > len(pairs):
        shown.append(f"…+{total - len(pairs)} fields")
    return f"{label}({', '.join(shown)})"


def _pair_brief(value, depth):
    return _brief(value, depth + 1) if _ok(value) else str(value)


def _pair_lines(pairs, total, depth, noun):
    """`name: brief` for each pair shown, then how many of total were not."""
    lines = [f"{name}: {_pair_brief(v, depth)}" for name, v in pairs[:MAX_ATTRS_SHOWN]]
    if total > len(lines):
        lines.append(f"… {total - len(lines):,} more {noun}")
    return lines


def _summarize_object(value, depth):
    tp = type(value)
    label = f"{_label(tp)} ({_top_module(tp) or '?'})"
    shown_repr = _repr_if_small(value, tp)
    if depth:
        return _Parts(f"{label}: {shown_repr}" if shown_repr else label)
    names = _safe(_attribute_names, value, tp)
    lines = [f"repr: {shown_repr}"] if shown_repr else []
    if not _ok(names):
        return _Parts(label, lines + [f"attributes: {names}"])
    lines.extend(_pair_lines(_getattrs(value, names[:MAX_ATTRS_SHOWN]), len(names), depth, "attributes"))
    return _Parts(f"{label} with {_counted(len(names), 'attribute')}" if names else label, lines)


def _repr_if_small(value, tp):
    """A class's own __repr__ usually says the most, but never for something with a huge len()."""
    defining = next((cls for cls in _type_mro(tp) if "__repr__" in _type_vars(cls)), object)
    if defining is object:
        return ""  # `<Foo object at 0x...>` says nothing the headline does not
    if _has(tp, "__len__"):
        n = _safe(len, value)
        if _ok(n) and n > MAX_REPR_LEN:
            return ""
    return _safe_repr(value, MAX_BRIEF_CHARS * 2)


def _attribute_names(value, tp):
    """Instance attributes, public first; slots too. Dunder names are machinery, not data."""
    names = list(vars(value)) if _has(tp, "__dict__") else []
    for cls in _type_mro(tp):
        slots = _type_vars(cls).get("__slots__", ())
        slots = (slots,) if type(slots) is str else slots
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__") and hasattr(value, s))
    names = [n for n in dict.fromkeys(names) if type(n) is str and not n.startswith("__")]
    return sorted(names, key=lambda name: name.startswith("_"))


def _summarize_exception(value, depth):
    tp = type(value)
    attrs = _safe(vars, value)
    if _ok(attrs) and type(attrs.get("type")) is str and "exception" in attrs:
        return _summarize_exception_wrapper(value, attrs, depth)
    message = _safe_str(value, MAX_MESSAGE_CHARS)
    first, _, rest = message.partition("\n")
    parts = _Parts(f"{_label(tp)}: {first}" if first else _label(tp))
    if depth:
        return parts
    if rest:
        parts.lines.append(f"message continues: {_cut(rest, MAX_MESSAGE_CHARS)}")
    where = _safe(_last_frame, value)
    if where:
        parts.lines.append(f"raised at {where}")
    chain = _safe(_chain_lines, value)
    parts.lines.extend(chain if _ok(chain) else [f"cause: {chain}"])
    notes = getattr(value, "__notes__", None)
    if type(notes) is list:
        parts.lines.extend(f"note: {_safe_str(note, MAX_BRIEF_CHARS)}" for note in notes[:MAX_ITEMS_SHOWN])
    return parts


def _summarize_exception_wrapper(value, attrs, depth):
    """Metaflow's @catch stores the failure as MetaflowExceptionWrapper(type, exception, stacktrace)."""
    message = _cut(str(attrs.get("exception")).partition("\n")[0], MAX_MESSAGE_CHARS)
    parts = _Parts(f"{_label(type(value))} of {attrs['type']}: {message}")
    trace = attrs.get("stacktrace")
    if not depth and type(trace) is str and trace.strip():
        lines = trace.rstrip().splitlines()
        hidden = len(lines) - MAX_TRACE_LINES
        if hidden > 0:
            parts.lines.append(f"traceback (last {MAX_TRACE_LINES} of {len(lines):,} lines):")
        parts.lines.extend(_cut(line, MAX_BRIEF_CHARS * 2) for line in lines[-MAX_TRACE_LINES:])
    return parts


def _last_frame(exc):
    tb = exc.__traceback__
    if type(tb) is not types.TracebackType:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename}:{tb.tb_lineno} in {code.co_name}"


def _chain_lines(exc):
    """The causes behind exc, as pytest follows them: __cause__, else unsuppressed __context__."""
    lines, seen = [], {id(exc)}
    while len(lines) < MAX_ITEMS_SHOWN:
        if exc.__cause__ is not None:
            exc, how = exc.__cause__, "caused by"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, how = exc.__context__, "while handling"
        else:
            break
        if id(exc) in seen:
            break
        seen.add(id(exc))
        message = _safe_str(exc, MAX_BRIEF_CHARS).partition("\n")[0]
        lines.append(f"{how} {_label(type(exc))}: {message}")
    return lines


def _summarize_routine(value, depth):
    kind = "method" if type(value) is types.MethodType else "function"
    if issubclass(type(value), types.BuiltinFunctionType):
        kind = "builtin function"
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return _Parts(f"{kind} {_dotted(getattr(value, '__module__', None), name)}")


def _summarize_class(value, depth):
    return _Parts(f"class {_qualified_name(value)}")


def _summarize_module(value, depth):
    name = getattr(value, "__name__", "?")
    path = getattr(value, "__file__", None)
    return _Parts(f"module {name}", [f"file: {_cut(path, MAX_BRIEF_CHARS * 2)}"] if type(path) is str else [])
