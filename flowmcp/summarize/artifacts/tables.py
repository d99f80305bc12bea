"""Tables: pandas, pyarrow and polars frames and series, described from their schema and first rows."""


from .builtins import (
    _item_lines,
)
from .dispatch import (
    _cell,
)
from .plumbing import (
    MAX_CELL_CHARS,
    MAX_COLUMNS_SHOWN,
    MAX_ITEMS_SHOWN,
    MAX_NULL_SCAN_CELLS,
    MAX_ROWS_SHOWN,
    MAX_TABLE_COLUMNS,
    _counted,
    _cut,
    _human_size,
    _label,
    _ok,
    _Parts,
    _safe,
    _size_note,
)


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
