"""The handler table: libraries by class name, then builtins, then duck types."""

import collections
import collections.abc
import types

from .arrays import (
    _summarize_array_like,
    _summarize_numpy_array,
    _summarize_numpy_scalar,
    _summarize_torch_tensor,
)
from .builtins import (
    _record_kind,
    _summarize_bytes,
    _summarize_class,
    _summarize_collection,
    _summarize_exception,
    _summarize_mapping,
    _summarize_module,
    _summarize_number,
    _summarize_object,
    _summarize_record,
    _summarize_routine,
    _summarize_short_repr,
    _summarize_str,
)
from .dispatch import (
    _is_short_repr_type,
    use_handlers,
)
from .estimators import (
    _summarize_estimator,
)
from .joins import (
    _summarize_join_inputs,
)
from .pictures import (
    _summarize_axes,
    _summarize_figure,
    _summarize_pil_image,
)
from .plumbing import (
    _COLLECTION_TYPES,
    _ROUTINE_TYPES,
    _has,
    _mro_names,
)
from .tables import (
    _summarize_arrow_array,
    _summarize_arrow_table,
    _summarize_pandas_frame,
    _summarize_pandas_index,
    _summarize_pandas_series,
    _summarize_polars_frame,
    _summarize_polars_lazy,
    _summarize_polars_series,
)


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
    ("matplotlib.Figure", _summarize_figure),
    ("matplotlib.SubFigure", _summarize_figure),
    ("matplotlib.Axes", _summarize_axes),
    ("PIL.Image", _summarize_pil_image),
    ("metaflow.Inputs", _summarize_join_inputs),
)

use_handlers(_handler_for)
