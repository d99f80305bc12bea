"""Pictures leave the project at most MAX_EDGE px a side, whatever their bytes declare: PNG and
JPEG bytes are read before they are sent (flowmcp/bridge/project/images.py), as pure functions;
tests/test_cards.py asks the same of inspect_artifact on a real run."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from flowmcp.bridge.project import images
from flowmcp.bridge.project.images import MAX_EDGE, PNG_SIGNATURE, NotAPicture


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A whole, valid PNG of width×height 1-bit pixels, every one black: tens of KB on disk."""
    row = b"\x00" * (1 + (width + 7) // 8)
    deflate = zlib.compressobj(9)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    return (PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))


def png_header(side: int = 60000) -> bytes:
    """64 bytes: a PNG's signature and a header declaring side×side px, then nothing."""
    data = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
    return data + b"\0" * (64 - len(data))


def jpeg_header(side: int = 65535, whole: bool = False) -> bytes:
    """A JPEG's start and frame header declaring side×side px; `whole` adds a scan and the end."""
    frame = struct.pack(">BHHB", 8, side, side, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    data = b"\xff\xd8\xff\xc0" + struct.pack(">H", 2 + len(frame)) + frame
    if whole:
        scan = b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
        data += b"\xff\xda" + struct.pack(">H", 2 + len(scan)) + scan + b"\x00" * 64
    return data + b"\xff\xd9"


def encoded(image: Image.Image, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def strip() -> bytes:
    return encoded(Image.new("RGB", (30000, 20), (200, 30, 30)))


@pytest.mark.parametrize("data, words", [
    (png_bomb(), "declares 20000×20000 px, more than flowmcp decodes"),
    (png_header(), "chunk is damaged"),
    (png_header()[:33], "is cut short: it has no image data"),
    (jpeg_header(), "JPEG is cut short: it has no image data"),
    (jpeg_header(whole=True), "declares 65535×65535 px, more than flowmcp decodes"),
], ids=["png-20000x20000", "png-64-byte-header", "png-header-alone", "jpeg-header", "jpeg-65535x65535"])
def test_bytes_that_declare_a_huge_picture_or_do_not_read_as_one_are_not_sent(data, words):
    with pytest.raises(NotAPicture, match=words):
        images.picture(data)


def test_a_strip_longer_than_the_edge_is_scaled_down_to_it():
    picture = images.picture(strip())
    assert (picture["width"], picture["height"]) == (MAX_EDGE, 1) and picture["source"] == "PNG bytes"
    assert Image.open(io.BytesIO(picture["data"])).size == (MAX_EDGE, 1)


def test_small_pictures_pass_as_they_are_once_read_whole():
    gradient = Image.linear_gradient("L").resize((300, 200))
    for kind, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        data = encoded(gradient, kind)
        picture = images.picture(data)
        assert picture["data"] == data and picture["mime"] == mime
        assert (picture["width"], picture["height"]) == (300, 200)
    interlaced = io.BytesIO()
    gradient.save(interlaced, "PNG", interlace=1)  # Adam7: seven passes, each with its own rows
    assert images.picture(interlaced.getvalue())["data"] == interlaced.getvalue()


def test_a_png_whose_data_is_not_what_its_header_says_is_not_sent():
    data = encoded(Image.new("RGB", (100, 100), (1, 2, 3)))
    at = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[at:at + 4])[0]
    idat = zlib.decompress(data[at + 8:at + 8 + length])
    for raw, words in ((idat[:-300], "shorter than its 100×100 px header"), (idat + b"\0" * 301, "longer than"),
                       (b"\x09" + idat[1:], "a row has no valid filter")):
        forged = data[:at] + _chunk(b"IDAT", zlib.compress(raw)) + data[at + 12 + length:]
        with pytest.raises(NotAPicture, match=words):
            images.picture(forged)
    with pytest.raises(NotAPicture, match="checksum"):
        images.picture(data[:at + 10] + bytes([data[at + 10] ^ 1]) + data[at + 11:])


def test_a_figure_saved_with_a_tight_box_stays_within_the_edge():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"savefig.bbox": "tight"}):
        figure, axes = plt.subplots(figsize=(16, 10))
        axes.text(5, 5, "far outside the axes", transform=axes.transAxes)  # the tight box grows to hold it
        picture = images.picture(figure)
    assert max(picture["width"], picture["height"]) <= MAX_EDGE, picture


def test_without_pillow_a_large_picture_says_how_to_see_it_and_a_small_one_passes():
    """The project's interpreter may have no Pillow: a small JPEG is still checked and sent, a
    picture to scale down answers what to install."""
    small_jpeg = encoded(Image.new("RGB", (64, 48), (9, 9, 9)), "JPEG")
    code = (f"import sys; sys.modules['PIL'] = None; STRIP, JPEG = {strip()!r}, {small_jpeg!r}\n"
            "from flowmcp.bridge.project import images\n"
            "try:\n    images.picture(STRIP)\nexcept images.NotAPicture as ex:\n    print(ex)\n"
            "print(images.picture(JPEG)['width'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    said, width = out.stdout.strip().splitlines()
    assert "30000×20 px" in said and "Pillow is not installed in the project's interpreter" in said, said
    assert width == "64"


@pytest.mark.anyio
async def test_view_card_renders_no_wider_than_the_edge(tmp_path):
    from mcp import Client

    from flowmcp.app import App
    from flowmcp.server.build import build_server

    async with Client(build_server(App.create(tmp_path))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert tools["view_card"].input_schema["properties"]["width"]["maximum"] == MAX_EDGE
