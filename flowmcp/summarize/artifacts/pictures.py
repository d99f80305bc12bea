"""Plots and images: a matplotlib Figure or Axes, a PIL image — what they show, in a line.

Read through the value's own accessors (sizes, titles, labels, artists' counts); nothing is drawn.
`inspect_artifact(..., as_image=true)` shows the picture itself.
"""

from .plumbing import (
    _cut,
    _ok,
    _Parts,
    _safe,
)

MAX_AXES_SHOWN = 6


def _summarize_figure(value, depth):
    width, height = _safe(lambda: [float(x) for x in value.get_size_inches()])
    dpi = _safe(lambda: float(value.dpi))
    axes = _safe(lambda: list(value.get_axes()))
    size = ""
    if _ok(width) and _ok(dpi):
        size = f" {round(width * dpi)}×{round(height * dpi)} px"
    count = len(axes) if _ok(axes) else 0
    title = _safe(lambda: value._suptitle.get_text() if value._suptitle is not None else "")
    headline = f"matplotlib Figure{size} with {count} Axes" + (f", titled {title!r}" if _ok(title) and title else "")
    parts = _Parts(headline)
    if depth or not _ok(axes):
        return parts
    parts.lines.extend(_axes_line(ax) for ax in axes[:MAX_AXES_SHOWN])
    if count > MAX_AXES_SHOWN:
        parts.lines.append(f"… {count - MAX_AXES_SHOWN} more Axes")
    return parts


def _summarize_axes(value, depth):
    parts = _Parts("matplotlib " + _axes_line(value))
    figure = _safe(value.get_figure)
    if not depth and _ok(figure) and figure is not None:
        parts.lines.append("of " + _summarize_figure(figure, depth + 1).headline)
    return parts


def _axes_line(ax):
    def text(getter):
        got = _safe(getter)
        return got if _ok(got) else ""

    drawn = []
    for one, many, getter in (("line", "lines", ax.get_lines), ("image", "images", ax.get_images),
                              ("patch", "patches", lambda: ax.patches),
                              ("collection", "collections", lambda: ax.collections)):
        n = _safe(lambda getter=getter: len(getter()))
        if _ok(n) and n:
            drawn.append(f"{n} {one if n == 1 else many}")
    labels = [f"{axis} {label!r}" for axis, label in (("x", text(ax.get_xlabel)), ("y", text(ax.get_ylabel)))
              if label]
    title = text(ax.get_title)
    said = (f"Axes {title!r}" if title else "Axes (untitled)") + ": " + (", ".join(drawn) or "empty — nothing drawn")
    return _cut(said + ("; " + ", ".join(labels) if labels else ""), 200)


def _summarize_pil_image(value, depth):
    size = _safe(lambda: tuple(value.size))
    mode = _safe(lambda: value.mode)
    shown = f"{size[0]}×{size[1]} px" if _ok(size) and len(size) == 2 else "size unknown"
    return _Parts(f"PIL image {shown}, mode {mode if _ok(mode) else '?'}",
                  shape=list(size)[::-1] if _ok(size) else None)
