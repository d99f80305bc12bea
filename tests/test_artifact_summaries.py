"""Artifact summaries: short, bounded and true for any value, and never an exception."""

import collections
import dataclasses
import datetime
import enum
import gzip
import json
import pickle
import subprocess
import sys
import time
import types
import typing
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

HOOK_DIR = Path(__file__).resolve().parents[1] / "flowmcp" / "bridge" / "hook"


def _load_as_the_project_does():
    # Production loads this module into the user's interpreter through flowmcp's one loader, not
    # as the installed flowmcp: load it the same way, so a server-only import fails here.
    sys.path.insert(0, str(HOOK_DIR))
    try:
        import _flowmcp_loader
    finally:
        sys.path.remove(str(HOOK_DIR))
    return _flowmcp_loader.load("summarize.artifacts")


artifacts = _load_as_the_project_does()
summarize, describe = artifacts.summarize, artifacts.describe
FAST = 2.0  # seconds: a guard against accidental full scans, not a benchmark


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


# --- Values from the user's world -------------------------------------------------------------------


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.01
    layers: list = dataclasses.field(default_factory=lambda: [64, 32])
    name: str = "baseline"


class Point(typing.NamedTuple):
    x: int
    y: float


class Color(enum.Enum):
    RED = 1


class Scorer:
    """A class defined in a flow file: no __repr__ of its own."""

    def __init__(self):
        self.threshold = 0.5
        self.weights = [0.1, 0.2, 0.3]
        self._cache = {}


class Everything:
    """Every way of looking at it raises."""

    def __repr__(self):
        raise TypeError("no repr")

    def __str__(self):
        raise TypeError("no str")

    def __len__(self):
        raise ValueError("no len")

    def __getattr__(self, name):
        raise RuntimeError(name)


class LiesAboutItsClass:
    @property
    def __class__(self):
        raise RuntimeError("no class")

    def __getattribute__(self, name):
        raise RuntimeError(name)


class ExitsOnRepr:
    def __repr__(self):
        raise SystemExit(3)


class ShapeRaises:
    dtype = "float32"

    @property
    def shape(self):
        raise TypeError("no shape")


class BrokenList(list):
    def __len__(self):
        raise TypeError("no len")

    def __iter__(self):
        raise TypeError("no iter")


class HugeRepr:
    def __repr__(self):
        return "HugeRepr(" + "x" * 1_000_000 + ")"


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 1  # b is never set


def png_bytes():
    return b"\x89PNG\r\n\x1a\n" + bytes(100)


def zip_bytes():
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def a_frame(rows=100_000, columns=13):
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    data = {"name": pd.Series(["alice", "bob"] * (rows // 2), dtype=object), "label": rng.integers(0, 3, rows)}
    data.update({f"feature_{i}": rng.random(rows) for i in range(columns - 3)})
    data["score"] = np.where(rng.random(rows) < 0.1, np.nan, 1.0)
    return pd.DataFrame(data)


def an_exception():
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("bad row 17") from exc
    except ValueError as exc:
        return exc


# --- Never raises, always bounded -----------------------------------------------------------------


def _np():
    return pytest.importorskip("numpy")


def _pd():
    return pytest.importorskip("pandas")


def _self_referencing_list():
    items = [1, 2]
    items.append(items)
    return items


# name -> factory, so each value is built only by the test that uses it (and skipped without its library).
CORPUS = {
    "none": lambda: None,
    "bool": lambda: True,
    "int": lambda: 42,
    "huge int": lambda: 10**100_000,
    "float": lambda: float("nan"),
    "complex": lambda: 1 + 2j,
    "long str": lambda: "x" * 1_000_000,
    "control chars": lambda: "\x00\x01" * 10_000,
    "50 MB bytes": lambda: bytes(50_000_000),
    "bytearray": lambda: bytearray(b"hello world, this is text"),
    "memoryview": lambda: memoryview(png_bytes()),
    "million list": lambda: list(range(1_000_000)),
    "mixed list": lambda: [1, "a", 2.0, None, b"x", [1]] * 500,
    "list of long strings": lambda: ["y" * 100_000] * 20,
    "self-referencing list": _self_referencing_list,
    "tuple": lambda: (1, "two", 3.0),
    "set": lambda: set(range(5000)),
    "frozenset": lambda: frozenset("abc"),
    "deque": lambda: collections.deque(range(10)),
    "dict": lambda: {"lr": 0.01, "weights": [0.1, 0.2], "nested": {"a": {"b": {"c": {"d": 1}}}}},
    "big dict": lambda: {f"key_{i}" * 20: list(range(i % 7)) for i in range(100_000)},
    "tuple keys": lambda: {(i, "x" * 500): i for i in range(50)},
    "mappingproxy": lambda: types.MappingProxyType({"a": 1}),
    "dataclass": TrainConfig,
    "namedtuple": lambda: Point(1, 2.5),
    "enum": lambda: Color.RED,
    "datetime": lambda: datetime.datetime(2024, 1, 2, 3, 4, 5),
    "exception": an_exception,
    "function": lambda: an_exception,
    "lambda": lambda: (lambda: 1),
    "class": lambda: Scorer,
    "module": lambda: json,
    "builtin": lambda: len,
    "user object": Scorer,
    "slots": Slotted,
    "huge repr": HugeRepr,
    "everything raises": Everything,
    "lies about class": LiesAboutItsClass,
    "exits on repr": ExitsOnRepr,
    "shape raises": ShapeRaises,
    "broken list": lambda: BrokenList([1, 2]),
    "generator": lambda: (i for i in range(3)),
    "dataframe": a_frame,
    "wide dataframe": lambda: _pd().DataFrame(_np().zeros((10, 200)), columns=[f"c{i}" * 30 for i in range(200)]),
    "dataframe of objects": lambda: _pd().DataFrame({"a": [[1, 2], {"k": "v" * 1000}, Everything()]}),
    "series": lambda: _pd().Series(range(100_000), name="price"),
    "index": lambda: _pd().date_range("2024-01-01", periods=365),
    "ndarray": lambda: _np().arange(12.0).reshape(3, 4),
    "object ndarray": lambda: _np().array([{"a": 1}, "x" * 10_000, None], dtype=object),
    "structured ndarray": lambda: _np().zeros(3, dtype=[("x", "f4"), ("y", "i4")]),
    "numpy scalar": lambda: _np().float32(0.5),
    "dict of frames": lambda: {f"df{i}": _pd().DataFrame({"a": range(10)}) for i in range(50)},
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_value_gets_a_bounded_json_serialisable_summary(name):
    value = CORPUS[name]()
    result = summarize(value)
    json.dumps(result)
    assert set(result) == {"type", "shape", "size_bytes", "summary", "detail"}
    assert result["summary"]
    assert len(result["summary"]) + len(result["detail"]) <= artifacts.MAX_CHARS
    assert len(describe(value)) <= artifacts.MAX_CHARS


@pytest.mark.parametrize("max_chars", [0, 1, 10, 40, 200])
@pytest.mark.parametrize("name", ["long str", "mixed list", "big dict", "exception", "user object", "huge repr"])
def test_describe_never_exceeds_a_small_max_chars(name, max_chars):
    value = CORPUS[name]()
    assert len(describe(value, max_chars)) <= max_chars
    result = summarize(value, max_chars)
    assert len(result["summary"]) + len(result["detail"]) <= max_chars


def test_a_cut_says_exactly_how_many_characters_were_cut():
    line = describe(HugeRepr()).splitlines()[1].removeprefix("repr: ")
    shown, _, cut = line.rpartition("…+")
    assert len(shown) + int(cut.removesuffix(" chars").replace(",", "")) == len(repr(HugeRepr()))


def test_lines_dropped_for_the_budget_are_counted():
    lines = describe({f"k{i}": i for i in range(1000)}, max_chars=100).splitlines()
    shown_keys = len(lines) - 2  # minus the headline and the marker
    assert lines[-1] == f"… {artifacts.MAX_KEYS_SHOWN + 1 - shown_keys} more lines"


def test_object_whose_repr_len_and_getattr_raise_is_still_described():
    text = describe(Everything())
    assert text.startswith("Everything (")
    assert "<unavailable: TypeError>" in text  # the repr, in its own spot


def test_object_whose_class_property_raises_is_described_by_its_real_type():
    result = summarize(LiesAboutItsClass())
    assert result["type"].endswith("LiesAboutItsClass")
    assert "<unavailable: RuntimeError>" in result["detail"]


def test_repr_raising_system_exit_does_not_end_the_process():
    assert "<unavailable: SystemExit>" in describe(ExitsOnRepr())


def test_shape_that_raises_becomes_unavailable_in_its_spot():
    text = describe(ShapeRaises())
    assert text.startswith("ShapeRaises (")
    assert "<unavailable: TypeError> float32" in text


def test_list_subclass_whose_len_and_iter_raise_names_both_failures():
    assert describe(BrokenList([1])) == "BrokenList of <unavailable: TypeError> (<unavailable: TypeError>)"


def test_unavailable_items_inside_a_list_do_not_spoil_the_rest():
    text = describe([1, Everything(), "ok"])
    assert text.startswith("list of 3 (int ×1, Everything ×1, str ×1)")
    assert "[2] 'ok'" in text


def test_summarizing_never_imports_pandas_or_numpy():
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(HOOK_DIR)!r})\n"
        "import _flowmcp_loader\n"
        "module = _flowmcp_loader.load('summarize.artifacts')\n"
        "module.describe({'a': [1, 2.0, 'x'], 'b': b'PAR1' * 10, 'c': module})\n"
        "heavy = {'pandas', 'numpy', 'torch', 'sklearn', 'pyarrow', 'polars'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# --- Scalars and text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "None"), (True, "bool True"), (42, "int 42"), (0.25, "float 0.25"), (1 + 2j, "complex (1+2j)")],
)
def test_scalars_show_their_value(value, expected):
    assert describe(value) == expected


def test_huge_int_is_described_by_digit_count_not_printed():
    # str() would refuse this (Python 3.11 caps int→str at 4,300 digits) and it would not fit anyway.
    assert describe(10**100_000) == "int with ~100,001 digits"


def test_long_string_shows_its_length_and_a_quoted_head():
    result = summarize("abc" * 500_000)
    assert result["summary"].startswith("str, 1,500,000 chars: 'abcabc")
    assert result["shape"] == [1_500_000]
    assert "…+" in result["detail"]  # the longer head in the detail says how much is left


def test_string_with_control_characters_is_escaped_and_bounded():
    result = summarize("\x00" * 500)
    assert "\\x00" in result["summary"]
    assert "\x00" not in describe("\x00" * 500)
    assert len(result["summary"]) < 120


# --- Bytes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (png_bytes, "PNG image"),
        (lambda: b"\xff\xd8\xff\xe0" + bytes(40), "JPEG image"),
        (lambda: b"GIF89a" + bytes(40), "GIF image"),
        (lambda: b"%PDF-1.7\n" + bytes(40), "PDF document"),
        (zip_bytes, "ZIP archive"),
        (lambda: gzip.compress(b"hello" * 100), "gzip data"),
        (lambda: b"PAR1" + bytes(100) + b"PAR1", "Parquet file"),
        (lambda: pickle.dumps(list(range(100)), protocol=4), "pickle (protocol 4)"),
        (lambda: json.dumps({"rows": list(range(50))}).encode(), "JSON-like text"),
        # 16 bytes cut 'ö' in half: the split character must not make it "binary".
        (lambda: ("héllo wörld " * 10).encode(), "UTF-8 text"),
        (lambda: bytes(range(256)), "binary data"),
    ],
)
def test_bytes_format_is_guessed_from_magic_bytes(make, kind):
    assert summarize(make())["summary"].endswith(kind)


def test_fifty_megabyte_blob_is_sized_and_fast():
    blob = b"PAR1" + bytes(50 * 1024 * 1024)
    result, seconds = timed(summarize, blob)
    assert seconds < FAST
    assert result["summary"] == "bytes, 50.0 MB, Parquet file"
    assert result["size_bytes"] == len(blob)
    assert result["detail"] == "first 16 bytes: b'PAR1" + "\\x00" * 12 + "'…"


def test_short_bytes_are_shown_whole():
    assert describe(b"hi") == "bytes, 2 B: b'hi'"


def test_bytearray_and_memoryview_are_summarized_like_bytes():
    assert describe(bytearray(png_bytes())).startswith("bytearray, 108 B, PNG image")
    assert describe(memoryview(png_bytes())).startswith("memoryview, 108 B, PNG image")


def test_released_memoryview_is_unavailable_not_an_error():
    view = memoryview(b"abc")
    view.release()
    assert describe(view) == "memoryview <unavailable: ValueError>"


# --- Collections -----------------------------------------------------------------------------------


def test_million_element_list_summary_is_short_and_fast():
    values = list(range(1_000_000))
    text, seconds = timed(describe, values)
    assert seconds < FAST
    assert text == "list of 1,000,000 (first 1,000: int)\nitems: 0, 1, 2, 3, 4, … 999,995 more"


def test_mixed_list_counts_element_types_in_a_bounded_sample():
    values = [1] * 900 + ["a"] * 100 + [2.0] * 5000
    assert describe(values).startswith("list of 6,000 (first 1,000: int ×900, str ×100)")


def test_small_mixed_list_counts_every_element():
    assert describe([1, 2, "a"]).startswith("list of 3 (int ×2, str ×1)")


def test_list_of_containers_shows_each_item_briefly():
    text = describe([[1.0, 2.0], {"a": 1}, "x"])
    assert text.splitlines()[1:] == ["[0] list of 2 (float)", "[1] dict of 1 (str → int)", "[2] 'x'"]


@pytest.mark.parametrize(
    ("value", "headline"),
    [
        ((1, 2), "tuple of 2 (int)"),
        ({1, 2, 3}, "set of 3 (int)"),
        (frozenset({"a"}), "frozenset of 1 (str)"),
        (collections.deque([1.0]), "deque of 1 (float)"),
        ({"a": 1}.keys(), "dict_keys of 1 (str)"),
        ([], "list, empty"),
        ({}, "dict, empty"),
    ],
)
def test_collections_show_length_and_element_types(value, headline):
    assert summarize(value)["summary"] == headline


def test_self_referencing_list_is_summarized_without_recursing_forever():
    assert describe(_self_referencing_list()).startswith("list of 3 (int ×2, list ×1)")


def test_dict_lists_first_keys_with_a_brief_shape_per_value():
    text = describe({"lr": 0.01, "weights": [0.1, 0.2, 0.3], "name": "run"})
    assert text.splitlines() == [
        "dict of 3 (str → float, list, str)",
        "'lr': 0.01",
        "'weights': list of 3 (float)",
        "'name': 'run'",
    ]


def test_dict_says_how_many_keys_were_not_shown():
    text = describe({i: i for i in range(100)})
    assert text.splitlines()[0] == "dict of 100 (int → int)"
    assert text.splitlines()[-1] == "… 90 more keys"


def test_deeply_nested_dicts_stay_one_line_per_key():
    nested = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    assert describe(nested) == "dict of 1 (str → dict)\n'a': dict of 1 (str → dict)"


def test_mapping_that_is_not_a_dict_is_summarized_as_a_mapping():
    assert describe(types.MappingProxyType({"a": 1})).startswith("mappingproxy of 1 (str → int)")


# --- Records, objects, exceptions, code ------------------------------------------------------------


def test_dataclass_shows_its_fields_briefly():
    text = describe(TrainConfig())
    assert text.splitlines() == [
        f"dataclass TrainConfig ({__name__.partition('.')[0]}) with 3 fields",
        "lr: 0.01",
        "layers: list of 2 (int)",
        "name: 'baseline'",
    ]


def test_nested_dataclass_is_shown_inline():
    assert describe({"config": TrainConfig()}).splitlines()[1] == (
        "'config': TrainConfig(lr=0.01, layers=list of 2 (int), name='baseline')"
    )


def test_namedtuple_is_a_record_not_a_tuple():
    assert describe(Point(1, 2.5)).splitlines()[1:] == ["x: 1", "y: 2.5"]


def test_pydantic_model_shows_its_fields():
    pydantic = pytest.importorskip("pydantic")

    class Settings(pydantic.BaseModel):
        lr: float = 0.1
        tags: list = pydantic.Field(default_factory=list)

    text = describe(Settings(tags=["a"]))
    assert text.splitlines()[0].startswith("pydantic model Settings")
    assert "tags: list of 1 (str)" in text


def test_user_class_lists_its_attributes_public_first():
    text = describe(Scorer())
    assert text.splitlines() == [
        f"Scorer ({__name__.partition('.')[0]}) with 3 attributes",
        "threshold: 0.5",
        "weights: list of 3 (float)",
        "_cache: dict, empty",
    ]


def test_object_with_many_attributes_says_how_many_more():
    obj = types.SimpleNamespace(**{f"a{i}": i for i in range(40)})
    text = describe(obj)
    assert "with 40 attributes" in text
    assert text.splitlines()[-1] == f"… {40 - artifacts.MAX_ATTRS_SHOWN} more attributes"


def test_slotted_object_shows_its_set_slots():
    assert describe(Slotted()).splitlines()[1:] == ["a: 1"]


def test_huge_custom_repr_is_cut_and_says_by_how_much():
    text = describe(HugeRepr())
    assert "repr: HugeRepr(xxx" in text
    assert "chars" in text
    assert len(text) < 400


def test_exception_shows_type_message_and_cause():
    lines = describe(an_exception()).splitlines()
    assert lines[0] == "ValueError: bad row 17"
    assert lines[1].startswith("raised at ") and lines[1].endswith(" in an_exception")
    assert lines[2] == "caused by KeyError: 'missing'"


def test_metaflow_catch_wrapper_shows_the_original_type_and_the_end_of_its_trace():
    wrapper_module = pytest.importorskip("metaflow.exception")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as exc:
        wrapper = wrapper_module.MetaflowExceptionWrapper(exc)
    lines = describe(wrapper).splitlines()
    assert lines[0] == "MetaflowExceptionWrapper of builtins.ZeroDivisionError: division by zero"
    assert lines[-1] == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (an_exception, f"function {__name__}.an_exception"),
        (Scorer, f"class {__name__}.Scorer"),
        (len, "builtin function len"),
        (Color.RED, "<Color.RED: 1>"),
        (datetime.date(2024, 1, 2), "datetime.date(2024, 1, 2)"),
        (range(10), "range(0, 10)"),
    ],
)
def test_code_and_small_value_types_are_named(value, expected):
    assert summarize(value)["summary"] == expected


def test_module_is_named_with_its_file():
    assert describe(json).startswith("module json\nfile: ")


# --- pandas --------------------------------------------------------------------------------------------


def test_hundred_thousand_row_dataframe_is_summarized_fast():
    frame = a_frame()
    result, seconds = timed(summarize, frame)
    assert seconds < FAST
    assert result["shape"] == [100_000, 13]
    assert result["summary"].startswith("DataFrame 100,000×13, ")
    assert result["summary"].endswith(" MB+")  # the object column is counted shallowly, and says so


def test_dataframe_lists_columns_with_dtypes_and_null_counts():
    detail = summarize(a_frame())["detail"].splitlines()
    assert detail[0] == "columns (13):"
    assert "  feature_0: float64" in detail
    assert "  label: int64" in detail
    assert any(line.startswith("  score: float64, ") and line.endswith(" nulls") for line in detail)


def test_dataframe_shows_a_few_rows_and_says_how_many():
    detail = summarize(a_frame())["detail"]
    assert "(5 of 100,000 rows shown, 8 of 13 columns)" in detail
    assert "'alice'" in detail


def test_wide_dataframe_lists_bounded_columns_and_says_how_many_more():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"c{i}": [i] for i in range(60)})
    assert "  … 40 more columns" in summarize(frame)["detail"].splitlines()


def test_dataframe_whose_memory_usage_raises_keeps_its_shape():
    pd = pytest.importorskip("pandas")

    class NoMemory(pd.DataFrame):
        def memory_usage(self, *args, **kwargs):
            raise RuntimeError("no memory usage")

    result = summarize(NoMemory({"x": [1, 2]}))
    assert result["summary"] == "NoMemory 2×1, <unavailable: RuntimeError>"
    assert result["size_bytes"] is None
    assert "columns (1), no nulls in these:" in result["detail"]


def test_dataframe_with_a_named_index_says_so():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="id"))
    assert "index: Index (" in describe(frame)


def test_series_shows_name_dtype_nulls_and_head():
    pd = pytest.importorskip("pandas")
    text = describe(pd.Series([1.5, None, 3.0] * 1000, name="price"))
    lines = text.splitlines()
    assert lines[0].startswith("Series 'price' of 3,000 float64, ")
    assert lines[1] == "nulls: 1,000"
    assert lines[-1] == "(5 of 3,000 rows shown)"


def test_pandas_index_shows_length_dtype_and_first_values():
    pd = pytest.importorskip("pandas")
    text = describe(pd.Index([10, 20, 30]))
    assert text == "Index of 3 (int64)\nitems: 10, 20, 30"


def test_pandas_timestamp_is_its_repr():
    pd = pytest.importorskip("pandas")
    assert describe(pd.Timestamp("2024-01-02")) == "Timestamp('2024-01-02 00:00:00')"


# --- numpy ---------------------------------------------------------------------------------------------


def test_ndarray_shows_shape_dtype_size_stats_and_values():
    np = pytest.importorskip("numpy")
    result = summarize(np.array([[1.0, np.nan], [3.0, 5.0]]))
    assert result["summary"] == "ndarray (2, 2) float64, 32 B"
    assert result["shape"] == [2, 2]
    assert result["size_bytes"] == 32
    assert result["detail"].splitlines() == ["min 1.0, max 5.0, mean 3.0, NaN: 1", "values (flat): 1.0, nan, 3.0, 5.0"]


def test_nested_ndarray_is_brief_as_a_fitted_attribute_would_be():
    np = pytest.importorskip("numpy")
    assert describe({"coef": np.zeros((3, 4))}).splitlines()[1] == "'coef': ndarray (3, 4) float64"


def test_empty_and_all_nan_arrays_do_not_break_stats():
    np = pytest.importorskip("numpy")
    assert describe(np.array([], dtype=float)) == "ndarray (0,) float64, 0 B"
    assert "all 2 values NaN" in describe(np.array([np.nan, np.nan]))


def test_huge_array_stats_come_from_an_evenly_spaced_sample_and_say_so(monkeypatch):
    np = pytest.importorskip("numpy")
    monkeypatch.setattr(artifacts.arrays, "MAX_STATS_ELEMENTS", 1000)
    text = describe(np.arange(100_000, dtype=np.int64))
    assert "(from 1,000 evenly spaced of 100,000 elements)" in text


def test_boolean_and_datetime_arrays_get_fitting_stats():
    np = pytest.importorskip("numpy")
    assert "true: 2 of 3" in describe(np.array([True, False, True]))
    assert "min 2024-01-01, max 2024-03-01" in describe(np.array(["2024-03-01", "2024-01-01"], dtype="datetime64[D]"))


def test_numpy_scalar_shows_its_value():
    np = pytest.importorskip("numpy")
    assert describe(np.float32(0.5)) == "float32 0.5"


# --- pyarrow and polars --------------------------------------------------------------------------------


def test_arrow_table_shows_schema_and_nulls():
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"id": [1, 2, None], "name": ["a", None, "c"]})
    lines = describe(table).splitlines()
    assert lines[0].startswith("Table 3×2, ")
    assert lines[1:4] == ["columns (2):", "  id: int64, 1 null", "  name: string, 1 null"]
    assert lines[-1] == "(3 of 3 rows shown)"


def test_arrow_array_shows_type_nulls_and_values():
    pa = pytest.importorskip("pyarrow")
    text = describe(pa.chunked_array([[1, None], [3]]))
    assert text.splitlines()[1:] == ["nulls: 1", "items: 1, None, 3"]


def test_polars_frame_shows_schema_nulls_and_rows():
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": [1, None, 3], "name": ["a", "b", None]})
    result = summarize(frame)
    assert result["type"] == "polars.DataFrame"
    assert result["shape"] == [3, 2]
    assert result["detail"].splitlines()[:3] == ["columns (2):", "  id: Int64, 1 null", "  name: String, 1 null"]


def test_polars_series_and_lazy_frame():
    pl = pytest.importorskip("polars")
    assert describe(pl.Series("x", [1.0, None])).splitlines()[1] == "nulls: 1"
    assert describe(pl.DataFrame({"a": [1]}).lazy()) == "LazyFrame (lazy query, not collected)"


def test_torch_tensor_shows_shape_dtype_device_and_stats():
    torch = pytest.importorskip("torch")
    text = describe(torch.tensor([[1.0, 2.0], [3.0, float("nan")]], requires_grad=True))
    assert text.splitlines()[0].startswith("Tensor (2, 2) float32 on cpu, requires_grad")
    assert "NaN: 1" in text


# --- scikit-learn --------------------------------------------------------------------------------------


def test_unfitted_estimator_shows_only_non_default_params():
    linear_model = pytest.importorskip("sklearn.linear_model")
    text = describe(linear_model.LogisticRegression(C=0.5, max_iter=500))
    assert text.splitlines() == [
        "LogisticRegression(C=0.5, max_iter=500), not fitted",
        "estimator: sklearn.linear_model.LogisticRegression",
        "non-default params:",
        "  C: 0.5",
        "  max_iter: 500",
    ]


def test_fitted_estimator_lists_its_fitted_attributes_briefly():
    np = pytest.importorskip("numpy")
    linear_model = pytest.importorskip("sklearn.linear_model")
    features = np.random.default_rng(0).random((30, 4))
    model = linear_model.LogisticRegression().fit(features, np.arange(30) % 3)
    lines = describe(model).splitlines()
    assert lines[0] == "LogisticRegression(), fitted"
    assert "params: all defaults" in lines
    assert "  coef_: ndarray (3, 4) float64" in lines
    assert "  classes_: ndarray (3,) int64" in lines
    assert "  n_features_in_: 4" in lines


def test_pipeline_names_its_steps_and_each_step_briefly():
    pipeline = pytest.importorskip("sklearn.pipeline")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    linear_model = pytest.importorskip("sklearn.linear_model")
    pipe = pipeline.Pipeline(
        [("scale", preprocessing.StandardScaler()), ("model", linear_model.LogisticRegression(C=2.0))]
    )
    assert describe(pipe).splitlines() == [
        "Pipeline(scale → model)",
        "scale: StandardScaler(), not fitted",
        "model: LogisticRegression(C=2.0), not fitted",
    ]


def test_estimator_with_nan_default_is_not_reported_as_changed():
    impute = pytest.importorskip("sklearn.impute")
    assert describe(impute.SimpleImputer()).splitlines()[0] == "SimpleImputer(), not fitted"


def test_plots_and_images_say_what_they_show_in_a_line():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    figure, axes = plt.subplots(figsize=(4, 3))
    axes.bar(range(3), [1, 2, 3])
    axes.set_title("Sales")
    axes.set_xlabel("month")
    assert describe(figure) == "matplotlib Figure 400×300 px with 1 Axes\nAxes 'Sales': 3 patches; x 'month'"
    assert describe(axes).splitlines() == ["matplotlib Axes 'Sales': 3 patches; x 'month'",
                                          "of matplotlib Figure 400×300 px with 1 Axes"]
    empty, _ = plt.subplots()
    assert "Axes (untitled): empty — nothing drawn" in describe(empty)  # the chart an agent should not ship
    assert describe(Image.new("RGB", (80, 40))) == "PIL image 80×40 px, mode RGB"
    assert summarize(Image.new("L", (8, 4)))["shape"] == [4, 8]
    plt.close("all")
