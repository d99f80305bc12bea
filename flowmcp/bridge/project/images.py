"""Artifacts that are pictures, as a bounded PNG (or the JPEG they already are): a matplotlib
Figure, a PIL image, a numpy image array (H×W, H×W×3 or H×W×4) or PNG/JPEG bytes.

Runs in the project's interpreter. Only the library the value already belongs to is used (a
Figure draws itself, a PIL image saves itself); a numpy array is encoded here, with zlib, so no
imaging library is needed for it.
"""

import io
import struct
import zlib

MAX_BYTES = 1000000  # one answer's picture
MAX_EDGE = 1600  # px of the longer side: what clients show without shrinking text away
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


class NotAPicture(Exception):
    """The value is not one of the kinds above, or cannot be drawn within the bounds."""


def kind(value):
    """What kind of picture `value` is, or None."""
    module = type(value).__module__ or ""
    name = type(value).__name__
    if module.startswith("matplotlib") and name in ("Figure", "SubFigure"):
        return "matplotlib Figure"
    if module.startswith("matplotlib") and hasattr(value, "get_figure") and name.endswith("Axes"):
        return "matplotlib Axes"
    if module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size"):
        return "PIL image"
    if name == "ndarray" and module == "numpy" and _image_shape(value):
        return "numpy image array"
    if isinstance(value, (bytes, bytearray, memoryview)):
        head = bytes(value[:8])
        if head.startswith(PNG_SIGNATURE):
            return "PNG bytes"
        if head.startswith(JPEG_SIGNATURE):
            return "JPEG bytes"
    return None


def picture(value):
    """{"mime", "data" (bytes), "width", "height", "source"} of a bounded picture of `value`."""
    source = kind(value)
    if source is None:
        raise NotAPicture("%s is not a picture" % type(value).__name__)
    if source == "matplotlib Axes":
        value, source = value.get_figure(), "matplotlib Figure (of the Axes)"
    if source.startswith("matplotlib"):
        data = _figure(value)
    elif source == "PIL image":
        data = _pil(value)
    elif source == "numpy image array":
        data = _array(value)
    else:
        data = _encoded(bytes(value))
    mime = "image/jpeg" if data.startswith(JPEG_SIGNATURE) else "image/png"
    width, height = size(data)
    return {"mime": mime, "data": data, "width": width, "height": height, "source": source}


def _figure(figure):
    width, height = figure.get_size_inches()
    dpi = min(float(figure.dpi), MAX_EDGE / max(width, height, 0.01))

    def draw(out, scale):
        figure.savefig(out, format="png", dpi=dpi * scale)

    return _within_bytes(draw, "figure")


def _pil(image):
    image = image.copy()
    image.thumbnail((MAX_EDGE, MAX_EDGE))
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "P"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")

    def draw(out, scale):
        shown = image if scale == 1 else image.resize((max(1, int(image.size[0] * scale)),
                                                       max(1, int(image.size[1] * scale))))
        shown.save(out, format="PNG", optimize=True)

    return _within_bytes(draw, "image")


def _within_bytes(draw, what):
    """draw(out, scale) into a PNG at scale 1, then smaller (area in step with the bytes over
    MAX_BYTES) until it fits; NotAPicture after four tries."""
    scale = 1.0
    for _ in range(4):
        out = io.BytesIO()
        draw(out, scale)
        data = out.getvalue()
        if len(data) <= MAX_BYTES:
            return data
        scale *= (MAX_BYTES / float(len(data))) ** 0.5 * 0.9
    raise NotAPicture("the %s does not fit in %d bytes as a PNG" % (what, MAX_BYTES))


MIN_IMAGE_EDGE = 16  # px: a (3, 13) matrix of coefficients is a table of numbers, not a picture
MAX_IMAGE_ASPECT = 20  # a 1000×20 feature matrix is not a picture either
IMAGE_DTYPE_KINDS = "biuf"  # bool, integers, floats: object, text, dates, complex and records are not pixels


def _image_shape(array):
    """The shape of an array that is an image: H×W, or H×W×1/3/4 (gray, RGB, RGBA), each side at
    least MIN_IMAGE_EDGE and not more than MAX_IMAGE_ASPECT times the other, with pixel values."""
    shape = getattr(array, "shape", ())
    if getattr(getattr(array, "dtype", None), "kind", None) not in tuple(IMAGE_DTYPE_KINDS):
        return None
    if len(shape) == 3 and shape[2] not in (1, 3, 4):
        return None
    if len(shape) not in (2, 3):
        return None
    height, width = shape[:2]
    if min(height, width) < MIN_IMAGE_EDGE or max(height, width) > MAX_IMAGE_ASPECT * min(height, width):
        return None
    return shape


def _array(array):
    """An H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA) array as a PNG: floats in [0, 1] or any range
    are scaled to 0..255, integers are clipped; larger than MAX_EDGE, every n-th pixel is kept."""
    import numpy

    step = max(1, -(-max(array.shape[:2]) // MAX_EDGE))
    array = numpy.asarray(array)[::step, ::step]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == bool:
        array = array.astype(numpy.uint8) * 255
    elif array.dtype.kind == "f":
        finite = array[numpy.isfinite(array)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
        span = (high - low) or 1.0
        array = numpy.nan_to_num((array - low) / span * 255.0, nan=0.0, posinf=255.0, neginf=0.0)
        array = numpy.clip(array, 0, 255).astype(numpy.uint8)
    elif array.dtype != numpy.uint8:
        array = numpy.clip(array, 0, 255).astype(numpy.uint8)
    height, width = array.shape[:2]
    color = {2: 0, 3: 2}[array.ndim] if array.ndim == 2 or array.shape[2] == 3 else 6  # gray, RGB, RGBA
    rows = numpy.ascontiguousarray(array).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row
    data = (PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))
    if len(data) > MAX_BYTES:
        if step == 1 and max(height, width) > 64:  # halve it and try again
            return _array(array[::2, ::2])
        raise NotAPicture("the array does not fit in %d bytes as a PNG" % MAX_BYTES)
    return data


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _encoded(data):
    if len(data) <= MAX_BYTES:
        size(data)  # a picture we can read the size of, or NotAPicture
        return data
    try:
        from PIL import Image
    except ImportError:
        raise NotAPicture("the picture is %d bytes, more than one answer carries (%d), and PIL is not installed "
                          "to scale it down" % (len(data), MAX_BYTES))
    return _pil(Image.open(io.BytesIO(data)))


def size(data):
    """(width, height) of PNG or JPEG bytes."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data.startswith(JPEG_SIGNATURE):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    raise NotAPicture("the bytes are not a PNG or JPEG whose size can be read")
