"""Short, bounded, true descriptions of any Python value (a Metaflow artifact), for an agent to read.

Loaded by path into the user's interpreter: stdlib only; a library is used only through its own values.
"""

import collections
import collections.abc
import dataclasses
import enum
import inspect
import itertools
import math
import reprlib
import sys
import types
import warnings

from .text import cut_end

MAX_CHARS = 1500  # summary + detail of one value
MAX_BRIEF_CHARS = 100  # one-line summary of a value nested in another
MAX_CELL_CHARS = 24  # one cell of a sample table, or a column name
MAX_STR_HEAD = 60  # characters of a string quoted in its headline
MAX_TEXT_SHOWN = 400  # characters of a string quoted in its detail
MAX_MESSAGE_CHARS = 300  # an exception message
MAX_ROWS_SHOWN = 5
MAX_COLUMNS_SHOWN = 20  # columns listed with dtype and nulls
MAX_TABLE_COLUMNS = 8  # columns in the sample rows
MAX_ITEMS_SHOWN = 5
MAX_KEYS_SHOWN = 10
MAX_ATTRS_SHOWN = 12  # attributes, fields, params, fitted attributes
MAX_INLINE_FIELDS = 4  # fields of a nested record shown inline
MAX_TYPES_SHOWN = 4  # distinct element types named in a headline
MAX_TRACE_LINES = 6
MAX_DEPTH = 3  # nesting of briefs within briefs
TYPE_SAMPLE_SIZE = 1000  # elements inspected to name a collection's element types
MAGIC_BYTES = 16  # bytes read to guess a blob's format
MAX_STATS_ELEMENTS = 10_000_000  # larger arrays get stats from a strided sample
MAX_TENSOR_STATS_ELEMENTS = 1_000_000  # tensors may live on a GPU: keep it small
MAX_NULL_SCAN_CELLS = 50_000_000  # larger tables skip null counting
MAX_LINE_SCAN_CHARS = 10_000_000  # longer strings skip line counting
MAX_REPR_LEN = 1000  # objects reporting a larger len() are never repr'd
MAX_INT_BITS = 256  # larger ints are described by digit count, not printed

# Value types from these top-level modules read best as their own short repr.
_SCALAR_MODULES = {"datetime", "decimal", "fractions", "uuid", "pathlib", "ipaddress", "re", "pandas"}
# These libraries expose their public classes at the top level (pandas.DataFrame, not pandas.core...).
_FLAT_NAMESPACES = {"pandas", "numpy", "pyarrow", "polars", "torch"}
_ROUTINE_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)
_COLLECTION_TYPES = (
    list,
    tuple,
    set,
    frozenset,
    collections.deque,
    collections.abc.KeysView,
    collections.abc.ValuesView,
    collections.abc.ItemsView,
)
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"PAR1", "Parquet file"),
    (b"ARROW1", "Arrow IPC file"),
    (b"\x93NUMPY", "NumPy .npy file"),
    (b"\x89HDF\r\n\x1a\n", "HDF5 file"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
)

# Bounds builtin containers nested in dict keys, where a full repr could be arbitrarily long.
_KEY_REPR = reprlib.Repr()
_KEY_REPR.maxstring = MAX_CELL_CHARS
_KEY_REPR.maxother = MAX_BRIEF_CHARS


def summarize(value, max_chars: int = MAX_CHARS) -> dict:
    """Describe value as {"type", "shape", "size_bytes", "summary", "detail"}, JSON-serialisable.

    Never raises; len(summary) + len(detail) <= max_chars, with room left for describe()'s newline.
    """
    budget = max(_as_int(max_chars) or 0, 0)
    parts = _extract(value, depth=0)
    summary = _cut(parts.headline.replace("\n", " "), budget)
    return {
        "type": _qualified_name(type(value)),
        "shape": parts.shape,
        "size_bytes": parts.size_bytes,
        "summary": summary,
        "detail": _fit_lines(parts.lines, budget - len(summary) - 1),
    }


def describe(value, max_chars: int = MAX_CHARS) -> str:
    """The text form of summarize(): the headline, then the detail lines. Never raises."""
    result = summarize(value, max_chars)
    if result["detail"]:
        return result["summary"] + "\n" + result["detail"]
    return result["summary"]


# --- Plumbing -------------------------------------------------------------------------------------

# A type's name, module, bases and namespace read through `type` itself, past any metaclass that
# overrides them: the value's own code never runs, so it cannot raise.
_type_name = type.__dict__["__name__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_type_vars = type.__dict__["__dict__"].__get__


class _Unavailable:
    """Stands in for something that raised while we looked at it; prints `<unavailable: TypeError>`."""

    def __init__(self, exc):
        self.reason = _label(type(exc))

    def __str__(self):
        return f"<unavailable: {self.reason}>"

    def __format__(self, spec):  # so f"{n:,}" still works when n could not be computed
        return str(self)


class _Parts:
    """What one handler found: a headline, detail lines, and the machine-readable shape and size."""

    __slots__ = ("headline", "lines", "shape", "size_bytes")

    def __init__(self, headline, lines=(), shape=None, size_bytes=None):
        self.headline = str(headline)
        self.lines = [str(line) for line in lines]
        self.shape = _as_shape(shape)
        self.size_bytes = _as_int(size_bytes)


def _safe(fn, *args):
    """fn(*args), or an _Unavailable if it raised. As broad as pytest's saferepr, on purpose:
    a value's __repr__ may raise anything, even SystemExit, and describing it must not fail."""
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return _Unavailable(exc)


def _ok(result):
    return not isinstance(result, _Unavailable)


def _as_int(x):
    n = _safe(int, x) if x is not None and _ok(x) else None
    return n if type(n) is int else None


def _as_shape(shape):
    # Dimensions may be numpy ints, or unknown (dask's NaN): anything but ints means "no shape".
    def ints():
        return [int(d) for d in shape] if all(float(d).is_integer() for d in shape) else None

    dims = _safe(ints) if shape is not None and _ok(shape) else None
    return dims if type(dims) is list else None


def _label(tp):
    return _type_name(tp)


def _top_module(tp):
    module = _type_module(tp)
    return module.partition(".")[0] if type(module) is str else ""


def _qualified_name(tp):
    """`sklearn.linear_model.LogisticRegression`: private submodules dropped, the importable name."""
    return _dotted(_type_module(tp), _type_qualname(tp))


def _dotted(module, name):
    name = name if type(name) is str else "?"
    if type(module) is not str or module == "builtins":
        return name
    top, *rest = module.split(".")
    if top in _FLAT_NAMESPACES:
        return f"{top}.{name}"
    public = list(itertools.takewhile(lambda part: not part.startswith("_"), rest))
    return ".".join([top, *public, name])


def _mro_names(tp):
    """{'pandas.DataFrame', 'pandas.NDFrame', ..., 'builtins.object'}: what a type is, by name."""
    return {f"{_top_module(cls)}.{_label(cls)}" for cls in _type_mro(tp)}


def _has(tp, name):
    """Whether the class defines name, looked up without running any of the value's own code."""
    return any(name in _type_vars(cls) for cls in _type_mro(tp))


def _cut(text, limit):
    return cut_end(text, limit)


def _fit_lines(lines, budget):
    """Join as many whole lines as fit in budget, ending with how many were left out."""
    text = "\n".join(lines)
    if len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    used = -1  # no newline before the first line
    ends = []
    for line in lines:
        used += len(line) + 1
        ends.append(used)
    for kept in range(len(lines) - 1, 0, -1):
        marker = f"… {len(lines) - kept:,} more lines"
        if ends[kept - 1] + 1 + len(marker) <= budget:
            return "\n".join(lines[:kept] + [marker])
    return _cut(text, budget)


def _human_size(n):
    if not _ok(n):
        return str(n)
    if n < 1024:
        return f"{n:,} B"
    size = float(n)
    for unit in ("KB", "MB", "GB", "TB"):  # noqa: B007 - the last unit tried is the one shown
        size /= 1024
        if size < 1024:
            break
    return f"{size:,.1f} {unit}"


def _size_note(nbytes, depth):
    """`, 23.4 KB` at the top level, or when nested and big enough to matter."""
    if nbytes is None or not _ok(nbytes):
        return ""
    return f", {_human_size(nbytes)}" if depth == 0 or nbytes >= 1024 * 1024 else ""


def _shape_text(shape):
    return str(tuple(int(d) for d in shape)) if _as_shape(shape) is not None else str(shape)


def _num(x):
    """A statistic: ints with separators, floats to 6 significant digits."""
    x = x.item() if callable(getattr(x, "item", None)) else x
    if type(x) is int:
        return f"{x:,}"
    if type(x) is float:
        return _short_float(x)
    return str(x)


def _short_float(x):
    """6 significant digits, as pandas prints them, but still visibly a float: `1.0`, `0.636962`."""
    return repr(float(f"{x:.6g}"))


def _str_head(text, limit, note=True):
    """The quoted start of a string, `'abc'…+N chars` if longer; never repr's the whole string."""
    keep = limit
    head = repr(text[:keep])
    while len(head) > limit + 2 and keep > 1:  # escapes (`\x00`) make a repr longer than its text
        keep = max(1, keep * limit // len(head))
        head = repr(text[:keep])
    if len(text) > keep:
        return head + (f"…+{len(text) - keep:,} chars" if note else "…")
    return head


def _counted(n, noun):
    """`1 null`, `12 nulls`, `1,000 fields`."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _safe_str(value, limit):
    return _cut(str(_safe(str, value)), limit)


def _safe_repr(value, limit=MAX_BRIEF_CHARS):
    return _cut(str(_safe(repr, value)), limit)


# --- Dispatch -------------------------------------------------------------------------------------


def _extract(value, depth):
    """Summarize value with the handler for its type; a handler that fails leaves the type's name."""
    tp = type(value)  # never value.__class__, which the value itself controls
    parts = _safe(lambda: _handler_for(tp)(value, depth))
    return parts if _ok(parts) else _Parts(f"{_label(tp)} {parts}")


def _handler_for(tp):
    """The most specific handler: libraries by class name first, then builtins, then duck types."""
    if issubclass(tp, type):
        return _summarize_class
    if issubclass(tp, types.ModuleType):
        return _summarize_module
    if issubclass(tp, _ROUTINE_TYPES):
        return _summarize_routine
    names = _mro_names(tp)
    for name, handler in _LIBRARY_HANDLERS:
        if name in names:
            return handler
    if _has(tp, "get_params") and _has(tp, "fit"):
        return _summarize_estimator
    if issubclass(tp, BaseException):
        return _summarize_exception
    if _is_short_repr_type(tp):
        return _summarize_short_repr
    if tp is type(None) or issubclass(tp, (bool, int, float, complex)):
        return _summarize_number
    if issubclass(tp, str):
        return _summarize_str
    if issubclass(tp, (bytes, bytearray, memoryview)):
        return _summarize_bytes
    if issubclass(tp, collections.abc.Mapping):
        return _summarize_mapping
    if _record_kind(tp):
        return _summarize_record
    if issubclass(tp, _COLLECTION_TYPES):
        return _summarize_collection
    if _has(tp, "shape") and _has(tp, "dtype"):
        return _summarize_array_like
    return _summarize_object


def _is_short_repr_type(tp):
    if issubclass(tp, (enum.Enum, range, slice)):
        return True
    # pandas containers were dispatched already; what is left (Timestamp, NaT...) is a scalar.
    return _top_module(tp) in _SCALAR_MODULES and not _has(tp, "__len__")


def _brief(value, depth):
    """One line for a value nested in another: a scalar's repr, else its headline."""
    text = _inline(value)
    if text is None:
        text = _label(type(value)) if depth > MAX_DEPTH else _extract(value, depth).headline
    return _cut(text.replace("\n", " "), MAX_BRIEF_CHARS)


def _inline(value):
    """A scalar as it would be written (`0.5`, `'abc'`, `None`), or None for anything bigger."""
    tp = type(value)
    if "numpy.generic" in _mro_names(tp):
        return _safe_str(value, MAX_BRIEF_CHARS)
    if issubclass(tp, str):
        text = _safe(_str_head, value, MAX_STR_HEAD)  # a str subclass may break slicing
        return str(text)
    if value is None or issubclass(tp, (bool, int, float, complex)):
        return str(_safe(_number_text, value))
    if _is_short_repr_type(tp):
        return _safe_repr(value)
    return None


def _cell(value):
    """A table cell: str for numbers and dates (as pandas prints them), quoted strings, briefs."""
    tp = type(value)
    if issubclass(tp, str):
        return _str_head(value, MAX_CELL_CHARS, note=False)
    names = _mro_names(tp)
    if issubclass(tp, float) or "numpy.floating" in names:
        return str(_safe(_short_float, value))
    if value is None or issubclass(tp, (int, complex)) or "numpy.generic" in names:
        return _safe_str(value, MAX_CELL_CHARS)
    if "numpy.ndarray" in names and getattr(value, "ndim", None) == 0:  # np.ma.masked prints `--`
        return _safe_str(value, MAX_CELL_CHARS)
    if _is_short_repr_type(tp):
        return _safe_str(value, MAX_CELL_CHARS)
    return _cut(_brief(value, MAX_DEPTH), MAX_CELL_CHARS)


# --- Python builtins ------------------------------------------------------------------------------


def _summarize_number(value, depth):
    if value is None:
        return _Parts("None")
    text = _number_text(value)
    return _Parts(text if _is_huge_int(value) else f"{_label(type(value))} {text}")


def _number_text(value):
    if _is_huge_int(value):
        # str() of a huge int is slow, and refused past 4,300 digits since Python 3.11.
        return f"int with ~{int(value.bit_length() * math.log10(2)) + 1:,} digits"
    return _safe_repr(value)


def _is_huge_int(value):
    tp = type(value)
    return issubclass(tp, int) and not issubclass(tp, bool) and value.bit_length() > MAX_INT_BITS


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
        parts.lines.append(f"first {len(head)} bytes: {head!r}")
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


# --- Records and plain objects --------------------------------------------------------------------


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


# --- Tables: pandas, pyarrow, polars ---------------------------------------------------------------


def _column_lines(columns, total):
    """`columns (13):` then `name: dtype, 12 nulls` for each of the first few."""
    counted = any(nulls is not None for _, _, nulls in columns)
    if not counted:
        note = ", nulls not counted (large table)"
    else:
        note = "" if any(nulls for _, _, nulls in columns) else ", no nulls in these"
    lines = [f"columns ({total:,}){note}:"]
    for name, dtype, nulls in columns:
        note = f", {_counted(nulls, 'null')}" if nulls else ""
        lines.append(f"  {_cut(str(name), MAX_CELL_CHARS * 2)}: {dtype}{note}")
    if total > len(columns):
        lines.append(f"  … {total - len(columns):,} more columns")
    return lines


def _table_lines(header, rows, total_rows, total_columns, index=False):
    """A small aligned table, then `(5 of 100,000 rows shown, 8 of 13 columns)`."""
    header = [_cut(str(name), MAX_CELL_CHARS) for name in header]
    rows = [[str(_safe(_cell, cell)) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    note = f"({len(rows):,} of {total_rows:,} rows shown"
    shown_columns = len(header) - index
    if shown_columns < total_columns:
        note += f", {shown_columns:,} of {total_columns:,} columns"
    return lines + [note + ")"]


def _add_detail(parts, label, fn, *args):
    """Append fn's lines; if it fails, say so under label and keep everything else."""
    lines = _safe(fn, *args)
    parts.lines.extend(lines if _ok(lines) else [f"{label}: {lines}"])


def _head_lines(take, total, depth):
    """Item lines for the first few of total, got by take(n): the library's own cheap slicing."""
    return _item_lines(take(MAX_ITEMS_SHOWN), total, depth, indexed=True) if total else []


def _summarize_pandas_frame(value, depth):
    rows, cols = value.shape
    # Shallow memory is instant; object columns are counted as pointers, so say `+` as df.info() does.
    nbytes = _safe(lambda: int(value.memory_usage(index=True, deep=False).sum()))
    shallow = any(str(dt) == "object" or getattr(dt, "storage", None) == "python" for dt in value.dtypes)
    size = f", {_human_size(nbytes)}{'+' if shallow and _ok(nbytes) else ''}"
    return _table_parts(value, rows, cols, nbytes, size, _pandas_columns, _pandas_rows, depth)


def _table_parts(value, rows, cols, nbytes, size, columns, first_rows, depth):
    """Any 2-D table: `Label R×C, size`, then (at the top level) its columns and first rows."""
    parts = _Parts(f"{_label(type(value))} {rows:,}×{cols:,}{size}", shape=[rows, cols], size_bytes=nbytes)
    if not depth:
        _add_detail(parts, "columns", columns, value)
        _add_detail(parts, "rows", first_rows, value)
    return parts


def _pandas_columns(frame):
    rows, cols = frame.shape
    names = list(frame.columns[:MAX_COLUMNS_SHOWN])
    nulls = [None] * len(names)
    if rows * len(names) <= MAX_NULL_SCAN_CELLS:
        nulls = _safe(lambda: [int(n) for n in frame.iloc[:, : len(names)].isna().sum()])
        nulls = nulls if _ok(nulls) else [nulls] * len(names)
    lines = _column_lines(list(zip(names, frame.dtypes.iloc[: len(names)], nulls)), cols)
    if _label(type(frame.index)) != "RangeIndex":
        lines.append(f"index: {_label(type(frame.index))} ({frame.index.dtype})")
    return lines


def _pandas_rows(frame):
    head = frame.iloc[:MAX_ROWS_SHOWN, :MAX_TABLE_COLUMNS]
    rows = [list(row) for row in head.itertuples(index=True, name=None)]
    return _table_lines(["", *head.columns], rows, *frame.shape, index=True) if rows else []


def _summarize_pandas_series(value, depth):
    n = len(value)
    name = f" {_cell(value.name)}" if value.name is not None else ""
    nbytes = _safe(lambda: int(value.memory_usage(index=True, deep=False)))
    headline = f"{_label(type(value))}{name} of {n:,} {value.dtype}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=[n], size_bytes=nbytes)
    if not depth:
        _add_detail(parts, "nulls", _pandas_series_nulls, value)
        _add_detail(parts, "values", _pandas_series_rows, value)
    return parts


def _pandas_series_nulls(series):
    if len(series) > MAX_NULL_SCAN_CELLS:
        return [f"nulls: not counted (over {MAX_NULL_SCAN_CELLS:,} values)"]
    return [f"nulls: {int(series.isna().sum()):,}"]


def _pandas_series_rows(series):
    rows = [[index, item] for index, item in series.iloc[:MAX_ROWS_SHOWN].items()]
    header = ["", "value" if series.name is None else series.name]
    return _table_lines(header, rows, len(series), 1, index=True) if rows else []


def _summarize_pandas_index(value, depth):
    n = len(value)
    parts = _Parts(f"{_label(type(value))} of {n:,} ({value.dtype})", shape=[n])
    if not depth:
        _add_detail(parts, "values", _head_lines, lambda k: list(value[:k]), n, depth)
    return parts


def _summarize_arrow_table(value, depth):
    rows, cols = value.num_rows, value.num_columns
    nbytes = _safe(lambda: int(value.nbytes))
    return _table_parts(value, rows, cols, nbytes, _size_note(nbytes, depth), _arrow_columns, _arrow_rows, depth)


def _arrow_columns(table):
    schema = table.schema
    shown = range(min(table.num_columns, MAX_COLUMNS_SHOWN))
    columns = [(schema.field(i).name, schema.field(i).type, table.column(i).null_count) for i in shown]
    return _column_lines(columns, table.num_columns)


def _arrow_rows(table):
    shown = range(min(table.num_columns, MAX_TABLE_COLUMNS))
    columns = [table.column(i).slice(0, MAX_ROWS_SHOWN).to_pylist() for i in shown]
    rows = [list(row) for row in zip(*columns)]
    header = [table.schema.field(i).name for i in shown]
    return _table_lines(header, rows, table.num_rows, table.num_columns) if rows else []


def _summarize_arrow_array(value, depth):
    n = len(value)
    nbytes = _safe(lambda: int(value.nbytes))
    headline = f"{_label(type(value))} of {n:,} {value.type}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=[n], size_bytes=nbytes)
    if not depth:
        parts.lines.append(f"nulls: {_safe(lambda: value.null_count):,}")
        _add_detail(parts, "values", _head_lines, lambda k: value.slice(0, k).to_pylist(), n, depth)
    return parts


def _summarize_polars_frame(value, depth):
    rows, cols = value.shape
    nbytes = _safe(lambda: int(value.estimated_size()))
    return _table_parts(value, rows, cols, nbytes, _size_note(nbytes, depth), _polars_columns, _polars_rows, depth)


def _polars_columns(frame):
    names = frame.columns[:MAX_COLUMNS_SHOWN]
    nulls = frame.select(names).null_count().row(0)  # polars keeps null counts: this is cheap
    return _column_lines(list(zip(names, frame.dtypes, nulls)), frame.width)


def _polars_rows(frame):
    names = frame.columns[:MAX_TABLE_COLUMNS]
    rows = frame.select(names).head(MAX_ROWS_SHOWN).rows()
    return _table_lines(names, rows, *frame.shape) if rows else []


def _summarize_polars_series(value, depth):
    n = len(value)
    nbytes = _safe(lambda: int(value.estimated_size()))
    headline = f"{_label(type(value))} {_cell(value.name)} of {n:,} {value.dtype}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=[n], size_bytes=nbytes)
    if not depth:
        parts.lines.append(f"nulls: {_safe(value.null_count):,}")
        _add_detail(parts, "values", _head_lines, lambda k: value.head(k).to_list(), n, depth)
    return parts


def _summarize_polars_lazy(value, depth):
    # Even the schema of a lazy query may mean reading files: describe it without running anything.
    return _Parts(f"{_label(type(value))} (lazy query, not collected)")


# --- Arrays: numpy, torch, and anything with .shape and .dtype --------------------------------------


def _summarize_numpy_array(value, depth):
    shape, nbytes = value.shape, _safe(lambda: int(value.nbytes))
    headline = f"{_label(type(value))} {_shape_text(shape)} {value.dtype}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=shape, size_bytes=nbytes)
    if not depth and value.size:
        _add_detail(parts, "stats", _numpy_stats, value)
        label = "values" if value.ndim <= 1 else "values (flat)"
        _add_detail(parts, label, lambda: _value_lines(list(value.flat[:MAX_ITEMS_SHOWN]), value.size, label))
    return parts


def _value_lines(items, total, label):
    more = total - len(items)
    text = ", ".join(str(_safe(_cell, item)) for item in items)
    return [f"{label}: {text}" + (f", … {more:,} more" if more > 0 else "")]


def _numpy_stats(array):
    kind = array.dtype.kind
    if kind not in "biufmM":
        return []
    np = sys.modules["numpy"]  # imported already: the value is a numpy array
    sample, note = array, ""
    if array.size > MAX_STATS_ELEMENTS:
        step = -(-array.size // MAX_STATS_ELEMENTS)
        sample = array.flat[::step]  # copies only the sampled elements, even for strided views
        note = f" (from {sample.size:,} evenly spaced of {array.size:,} elements)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN slices, overflow in mean: the numbers say it
        if kind == "b":
            return [f"true: {int(np.count_nonzero(sample)):,} of {sample.size:,}{note}"]
        if kind in "mM":
            return [f"min {sample.min()}, max {sample.max()}{note}"]
        nans = int(np.isnan(sample).sum()) if kind in "fc" else 0
        if nans == sample.size:
            return [f"all {nans:,} values NaN{note}"]
        if kind == "c":
            return [f"NaN: {nans:,}{note}"] if nans else []
        low, high, mean = np.nanmin(sample), np.nanmax(sample), np.nanmean(sample)
    nan_note = f", NaN: {nans:,}" if nans else ""
    return [f"min {_num(low)}, max {_num(high)}, mean {_num(mean)}{nan_note}{note}"]


def _summarize_numpy_scalar(value, depth):
    return _Parts(f"{_label(type(value))} {_safe_str(value, MAX_BRIEF_CHARS)}")


def _summarize_torch_tensor(value, depth):
    shape = tuple(value.shape)
    nbytes = _safe(lambda: value.numel() * value.element_size())
    dtype = str(value.dtype).removeprefix("torch.")
    grad = ", requires_grad" if value.requires_grad else ""
    headline = f"{_label(type(value))} {_shape_text(shape)} {dtype} on {value.device}{grad}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=shape, size_bytes=nbytes)
    numel = value.numel()
    if depth or numel == 0:
        return parts
    if value.is_floating_point() and numel <= MAX_TENSOR_STATS_ELEMENTS:
        _add_detail(parts, "stats", _torch_stats, value)
    label = "values" if len(shape) <= 1 else "values (flat)"
    _add_detail(parts, label, lambda: _value_lines(value.detach().reshape(-1)[:MAX_ITEMS_SHOWN].tolist(), numel, label))
    return parts


def _torch_stats(tensor):
    flat = tensor.detach().float().reshape(-1)
    is_nan = flat.isnan()
    nans = int(is_nan.sum().item())
    if nans == flat.numel():
        return [f"all {nans:,} values NaN"]
    finite = flat[~is_nan]
    nan_note = f", NaN: {nans:,}" if nans else ""
    low, high, mean = finite.min().item(), finite.max().item(), finite.mean().item()
    return [f"min {_num(low)}, max {_num(high)}, mean {_num(mean)}{nan_note}"]


def _summarize_array_like(value, depth):
    """jax, cupy, xarray, scipy.sparse, TensorFlow...: all answer .shape and .dtype."""
    tp = type(value)
    shape = _safe(getattr, value, "shape")
    dtype = _safe(getattr, value, "dtype")
    nbytes = _safe(getattr, value, "nbytes")
    nbytes = nbytes if _ok(nbytes) and type(_as_int(nbytes)) is int else None
    headline = f"{_label(tp)} ({_top_module(tp)}) {_shape_text(shape)} {dtype}{_size_note(nbytes, depth)}"
    parts = _Parts(headline, shape=shape, size_bytes=nbytes)
    dims = _as_shape(shape)
    if not depth and dims is not None and math.prod(dims) <= MAX_REPR_LEN:
        parts.lines.append(f"repr: {_safe_repr(value, MAX_BRIEF_CHARS * 4)}")
    return parts


# --- scikit-learn and look-alikes (xgboost, lightgbm...) ---------------------------------------------


def _summarize_estimator(value, depth):
    tp = type(value)
    steps = _pipeline_steps(value)
    if steps is not None:
        return _summarize_pipeline(value, steps, depth)
    params = _safe(_changed_params, value)
    fitted = _safe(_fitted_attributes, value)
    status = "fitted" if _ok(fitted) and fitted else "not fitted"
    if _ok(params):
        inline = _cut(", ".join(f"{k}={_brief(v, depth + 1)}" for k, v in params), MAX_BRIEF_CHARS)
    else:
        inline = str(params)
    parts = _Parts(f"{_label(tp)}({inline}), {status}")
    if depth:
        return parts
    parts.lines.append(f"estimator: {_qualified_name(tp)}")
    if _ok(params) and params:
        parts.lines.append("non-default params:")
        parts.lines.extend("  " + line for line in _pair_lines(params, len(params), depth, "params"))
    elif _ok(params):
        parts.lines.append("params: all defaults")
    if _ok(fitted) and fitted:
        pairs = _getattrs(value, fitted[:MAX_ATTRS_SHOWN])
        parts.lines.append("fitted attributes:")
        parts.lines.extend("  " + line for line in _pair_lines(pairs, len(fitted), depth, "fitted attributes"))
    return parts


def _pipeline_steps(value):
    steps = _safe(lambda: vars(value).get("steps"))
    if type(steps) is list and steps and all(type(s) is tuple and len(s) == 2 for s in steps):
        return steps
    return None


def _summarize_pipeline(value, steps, depth):
    names = " → ".join(_cut(str(name), MAX_CELL_CHARS) for name, _ in steps)
    parts = _Parts(f"{_label(type(value))}({_cut(names, MAX_BRIEF_CHARS)})")
    if not depth:
        parts.lines.extend(f"{name}: {_brief(step, depth + 1)}" for name, step in steps[:MAX_ATTRS_SHOWN])
        if len(steps) > MAX_ATTRS_SHOWN:
            parts.lines.append(f"… {len(steps) - MAX_ATTRS_SHOWN:,} more steps")
    return parts


def _changed_params(estimator):
    """Params that differ from the __init__ defaults, as sklearn's own repr decides it."""
    params = estimator.get_params(deep=False)
    signature = inspect.signature(type(estimator).__init__)
    defaults = {name: p.default for name, p in signature.parameters.items() if p.default is not p.empty}
    return [(k, v) for k, v in params.items() if k not in defaults or not _same(v, defaults[k])]


def _same(value, default):
    if value is default:
        return True
    if type(value) is not type(default):
        return False  # 1 vs 1.0 is a change the user made
    if type(value) is float and math.isnan(value) and math.isnan(default):
        return True
    return _safe(lambda: bool(value == default)) is True  # arrays compare elementwise: "changed"


def _fitted_attributes(estimator):
    """sklearn's own test for fitted: attributes ending in `_`, set by fit()."""
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]


_LIBRARY_HANDLERS = (
    ("pandas.DataFrame", _summarize_pandas_frame),
    ("pandas.Series", _summarize_pandas_series),
    ("pandas.Index", _summarize_pandas_index),
    ("numpy.ndarray", _summarize_numpy_array),
    ("numpy.generic", _summarize_numpy_scalar),
    ("pyarrow.Table", _summarize_arrow_table),
    ("pyarrow.RecordBatch", _summarize_arrow_table),
    ("pyarrow.ChunkedArray", _summarize_arrow_array),
    ("pyarrow.Array", _summarize_arrow_array),
    ("polars.DataFrame", _summarize_polars_frame),
    ("polars.Series", _summarize_polars_series),
    ("polars.LazyFrame", _summarize_polars_lazy),
    ("torch.Tensor", _summarize_torch_tensor),
    ("sklearn.BaseEstimator", _summarize_estimator),
)
