"""Limits and the small tools every summarizer uses: safe calls, labels, sizes, cuts."""

import collections
import collections.abc
import itertools
import math
import reprlib
import types

from ...redaction import redact
from ..text import cut_end

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


class _CutRepr(reprlib.Repr):
    """reprlib's cuts keep a string's two ends: a secret is redacted before it is cut."""

    def repr_str(self, x, level):
        return super().repr_str(redact(x) if len(x) > self.maxstring else x, level)


# Bounds builtin containers nested in dict keys, where a full repr could be arbitrarily long.
_KEY_REPR = _CutRepr()


_KEY_REPR.maxstring = MAX_CELL_CHARS


_KEY_REPR.maxother = MAX_BRIEF_CHARS


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
    if len(text) > limit:
        text = redact(text)  # before the cut, which would leave a secret's start
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


def _number_text(value):
    if _is_huge_int(value):
        # str() of a huge int is slow, and refused past 4,300 digits since Python 3.11.
        return f"int with ~{int(value.bit_length() * math.log10(2)) + 1:,} digits"
    return _safe_repr(value)


def _is_huge_int(value):
    tp = type(value)
    return issubclass(tp, int) and not issubclass(tp, bool) and value.bit_length() > MAX_INT_BITS
