"""The pictures of a tool's answer (view_card; inspect_artifact with as_image) as files, for
`flowmcp call`: a terminal shows no MCP image content, so the call writes each picture to a file
and the answer says where. Standard library only: the caller imports nothing heavy."""

from __future__ import annotations

import base64
import struct
import tempfile
from pathlib import Path
from typing import Any

EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write(content: list[dict[str, Any]], out: str | None, tool: str) -> list[Path]:
    """Write the answer's images: to `out` (several: its name with -1, -2, ... before the suffix),
    else to a new folder in the temporary directory. Returns the files, top to bottom."""
    images = [c for c in content if c.get("type") == "image" and c.get("data")]
    if not images:
        return []
    if out is None:
        folder = Path(tempfile.mkdtemp(prefix=f"flowmcp-{tool}-"))
        paths = [folder / f"{tool}-{i}{_extension(image)}" for i, image in enumerate(images, 1)]
    else:
        target = Path(out).expanduser()
        paths = [target] if len(images) == 1 else [
            target.with_name(f"{target.stem}-{i}{target.suffix or _extension(image)}")
            for i, image in enumerate(images, 1)]
    for path, image in zip(paths, images):
        path.write_bytes(base64.b64decode(image["data"]))
    return paths


def said(written: list[Path] | None, out: str | None) -> str | None:
    """The line that says where the pictures went (None: nothing to say)."""
    if written is None:
        return None
    if not written:
        return "--out: this answer carries no picture; nothing was written." if out else None
    if len(written) == 1:
        return f"Picture: {written[0]} ({_describe(written[0])})"
    files = ", ".join(str(p) for p in written)
    return f"Pictures, top to bottom ({len(written)}): {files}"


def _extension(image: dict[str, Any]) -> str:
    return EXTENSIONS.get(str(image.get("mimeType") or ""), ".png")


def _describe(path: Path) -> str:
    data = path.read_bytes()
    size = f"{len(data) / 1024:,.0f} KB"
    if data[:8] == PNG_SIGNATURE and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return f"PNG {width}×{height}, {size}"
    return size
