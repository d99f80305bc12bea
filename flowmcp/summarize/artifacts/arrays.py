"""Arrays: numpy, torch, and anything with .shape and .dtype, with bounded statistics."""

import math
import sys
import warnings

from .dispatch import (
    _cell,
)
from .plumbing import (
    MAX_BRIEF_CHARS,
    MAX_ITEMS_SHOWN,
    MAX_REPR_LEN,
    MAX_STATS_ELEMENTS,
    MAX_TENSOR_STATS_ELEMENTS,
    _as_int,
    _as_shape,
    _label,
    _num,
    _ok,
    _Parts,
    _safe,
    _safe_repr,
    _safe_str,
    _shape_text,
    _size_note,
    _top_module,
)
from .tables import (
    _add_detail,
)


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
