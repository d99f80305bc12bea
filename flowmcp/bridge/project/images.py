"""Artifacts that are pictures, as a bounded PNG (or the JPEG they already are): a matplotlib
Figure, a PIL image, a numpy image array (H×W, H×W×3 or H×W×4) or PNG/JPEG bytes. Every picture
leaves at most MAX_EDGE px on its long side and MAX_BYTES long.

Runs in the project's interpreter. Only the library the value already belongs to is used (a
Figure draws itself, a PIL image saves itself); a numpy array is encoded here, with zlib, so no
imaging library is needed for it.

PNG/JPEG bytes are data from anywhere: a small file can declare 60000×60000 px, and a client
that tries to draw it, or refuses it, breaks the conversation. They are read before anything is
sent: a PNG's chunks (checksums, header, image data inflated to exactly the size its header
declares, at most MAX_EDGE px a side), a JPEG's segments (one frame header, a scan, its end) and,
where Pillow is installed, the JPEG decoded. A larger picture is scaled down by Pillow when it
is installed and declares at most MAX_DECODE_PIXELS (a JPEG decodes at down to an eighth a
side); else the answer says why it is not shown.
"""

import io
import struct
import zlib

MAX_BYTES = 1000000  # one answer's picture
MAX_EDGE = 1600  # px of the longer side: what clients show without shrinking text away
MAX_DECODE_PIXELS = 25000000  # decoded to be scaled down: ~100 MB as RGBA
JPEG_DRAFT_SCALE = 8  # a JPEG decodes at 1/8 of its size a side at the least
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
    if max(width, height) > MAX_EDGE or len(data) > MAX_BYTES:  # what every path above promises
        raise NotAPicture("the %s came out %d×%d px, %d bytes: more than one answer shows" % (
            source, width, height, len(data)))
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
    MAX_BYTES, sides in step with a side over MAX_EDGE: a figure saved with a tight bounding box
    can come out larger than its size) until it fits; NotAPicture after four tries."""
    scale = 1.0
    for _ in range(4):
        out = io.BytesIO()
        draw(out, scale)
        data = out.getvalue()
        edge = max(size(data))
        if len(data) <= MAX_BYTES and edge <= MAX_EDGE:
            return data
        scale *= min((MAX_BYTES / float(len(data))) ** 0.5, MAX_EDGE / float(edge)) * 0.9
    raise NotAPicture("the %s does not fit in %d bytes and %d px a side as a PNG" % (what, MAX_BYTES, MAX_EDGE))


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
    """PNG or JPEG bytes as they are when they read as a picture of at most MAX_EDGE px a side
    and MAX_BYTES; else scaled down by Pillow, within MAX_DECODE_PIXELS."""
    width, height = checked(data)
    jpeg = data.startswith(JPEG_SIGNATURE)
    if max(width, height) <= MAX_EDGE and len(data) <= MAX_BYTES:
        if jpeg:
            _decoded(data, width, height, required=False)
        return data
    return _pil(_decoded(data, width, height, required=True))


def _decoded(data, width, height, required):
    """The picture decoded by Pillow (at the smallest scale a JPEG offers that keeps MAX_EDGE);
    None without Pillow when not `required`. NotAPicture when it declares more pixels than
    MAX_DECODE_PIXELS or does not decode."""
    shrink = JPEG_DRAFT_SCALE if data.startswith(JPEG_SIGNATURE) else 1
    if width * height > MAX_DECODE_PIXELS * shrink * shrink:
        raise NotAPicture("it declares %d×%d px, more than flowmcp decodes to scale down (%d px): save it smaller"
                          % (width, height, MAX_DECODE_PIXELS))
    try:
        from PIL import Image
    except ImportError:
        if not required:
            return None
        raise NotAPicture("it is %d×%d px, %d bytes: more than one answer shows (%d px a side, %d bytes), and Pillow "
                          "is not installed in the project's interpreter to scale it down; install Pillow there, "
                          "or keep a smaller picture" % (width, height, len(data), MAX_EDGE, MAX_BYTES))
    try:
        image = Image.open(io.BytesIO(data))
        if shrink > 1:
            image.draft("RGB", (MAX_EDGE, MAX_EDGE))
        if image.size[0] * image.size[1] > MAX_DECODE_PIXELS:
            raise NotAPicture("it decodes to %d×%d px, more than flowmcp decodes to scale down (%d px): save it "
                              "smaller" % (image.size[0], image.size[1], MAX_DECODE_PIXELS))
        image.load()
    except NotAPicture:
        raise
    except Exception as ex:  # Pillow's errors for damaged data are OSError, SyntaxError, ValueError, ...
        raise NotAPicture("its data does not decode (%s: %s)" % (type(ex).__name__, ex))
    return image


def size(data):
    """(width, height) of PNG or JPEG bytes, as their header declares."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data.startswith(JPEG_SIGNATURE):
        for marker, body in _jpeg_segments(data):
            if _is_frame(marker) and len(body) >= 5:
                height, width = struct.unpack(">HH", body[1:5])
                return width, height
    raise NotAPicture("the bytes are not a PNG or JPEG whose size can be read")


def checked(data):
    """(width, height) of PNG or JPEG bytes that read as a whole picture; NotAPicture saying
    what is wrong otherwise."""
    if data.startswith(PNG_SIGNATURE):
        return _checked_png(data)
    if data.startswith(JPEG_SIGNATURE):
        return _checked_jpeg(data)
    raise NotAPicture("the bytes are neither a PNG nor a JPEG")


# PNG: bits per sample allowed for each colour type, and samples per pixel
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _checked_png(data):
    chunks, at, image = [], len(PNG_SIGNATURE), []
    while at < len(data):
        if at + 12 > len(data):
            raise NotAPicture("the PNG is cut short inside a chunk")
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if len(body) < length or at + 12 + length > len(data):
            raise NotAPicture("the PNG is cut short in its %r chunk" % kind.decode("latin-1"))
        if struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise NotAPicture("the PNG's %r chunk is damaged (its checksum is wrong)" % kind.decode("latin-1"))
        chunks.append(kind)
        if kind == b"IDAT":
            image.append(body)
        at += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0] != b"IHDR" or len(data) < 33:
        raise NotAPicture("the PNG does not start with its header")
    if chunks[-1] != b"IEND" or not image:
        raise NotAPicture("the PNG is cut short: it %s" % ("has no image data" if not image else "does not end"))
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31) or depth not in _PNG_DEPTHS.get(color, ()) \
            or compression or filtering or interlace > 1:
        raise NotAPicture("the PNG's header is not a valid one (%d×%d px, depth %d, colour type %d)"
                          % (width, height, depth, color))
    if max(width, height) <= MAX_EDGE:  # small enough to inflate here: its data must be the size it says
        bits = depth * _PNG_SAMPLES[color]
        passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
        rows = [(-(-(height - y0) // dy), -(-(width - x0) // dx)) for x0, y0, dx, dy in passes]
        expected = sum(h * (1 + -(-w * bits // 8)) for h, w in rows if h > 0 and w > 0)
        inflate = zlib.decompressobj()
        try:
            raw = inflate.decompress(b"".join(image), expected + 1)
        except zlib.error as ex:
            raise NotAPicture("the PNG's image data does not inflate (%s)" % ex)
        if len(raw) != expected or not inflate.eof:
            raise NotAPicture("the PNG's image data is %s than its %d×%d px header says"
                              % ("shorter" if len(raw) < expected else "longer", width, height))
        if not interlace and max(raw[::expected // height]) > 4:
            raise NotAPicture("the PNG's image data is damaged (a row has no valid filter)")
    return width, height


def _jpeg_segments(data):
    """(marker, body) of each segment of a JPEG up to its first scan (SOS), whose body is its
    header; stops where the data is cut short."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if length < 2 or at + 2 + length > len(data):
            return
        yield marker, data[at + 4:at + 2 + length]
        if marker == 0xDA:
            return
        at += 2 + length


def _is_frame(marker):
    return 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)


def _checked_jpeg(data):
    frames, scan = [], False
    for marker, body in _jpeg_segments(data):
        if _is_frame(marker):
            frames.append(body)
        scan = marker == 0xDA
    if len(frames) != 1:
        raise NotAPicture("the JPEG has %s frame header" % ("no" if not frames else "more than one"))
    if len(frames[0]) < 6:
        raise NotAPicture("the JPEG's frame header is cut short")
    height, width = struct.unpack(">HH", frames[0][1:5])
    components = frames[0][5]
    if not (width and height) or not 1 <= components <= 4 or len(frames[0]) < 6 + 3 * components:
        raise NotAPicture("the JPEG's frame header is not a valid one (%d×%d px, %d components)"
                          % (width, height, components))
    if not scan or data.rfind(b"\xff\xd9") < 0:
        raise NotAPicture("the JPEG is cut short: it %s" % ("has no image data" if not scan else "does not end"))
    return width, height
