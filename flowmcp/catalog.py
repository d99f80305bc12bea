"""The project's flow files: one walk with one skip list, each file read again only when it changes.

A flow file is a `.py` file whose text names `FlowSpec` and `@step` (a cheap check, no import);
the catalog also keeps the classes each one declares, so the tools can tell when two files define
a flow of the same name (their runs share one history in Metaflow's datastore).
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .bridge.metaflow_compat import LOCAL_DIR, SPIN_DIR
from .bridge.protocol import STATE_DIR

SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", LOCAL_DIR, SPIN_DIR, STATE_DIR})
MAX_ENTRIES = 5000  # folder entries looked at per walk
MAX_FLOW_FILES = 200
HEAD_BYTES = 200_000  # of each .py file, for the FlowSpec check
FRESH_S = 2.0  # a walk this recent answers again: every run and spin asks who else defines its flow
_CLASS = re.compile(r"^class\s+([A-Za-z_]\w*)\s*[(:]", re.MULTILINE)


@dataclass(frozen=True)
class FlowFile:
    path: Path
    classes: tuple[str, ...]  # every class the file declares (the flow is one of them)


class FlowCatalog:
    def __init__(self, root: Path):
        self.root = root
        self._read: dict[Path, tuple[tuple[int, int], FlowFile | None]] = {}
        self._walked: tuple[float, list[FlowFile]] | None = None

    def files(self) -> list[FlowFile]:
        """The flow files under the root, in path order. Blocking: call it off the event loop."""
        now = time.monotonic()
        if self._walked is not None and now - self._walked[0] < FRESH_S:
            return self._walked[1]
        found = self._walk()
        self._walked = (now, found)
        return found

    def _walk(self) -> list[FlowFile]:
        found: list[FlowFile] = []
        seen: set[Path] = set()
        for path, st in self.python_files():
            seen.add(path)
            key = (st.st_mtime_ns, st.st_size)
            cached = self._read.get(path)
            if cached is None or cached[0] != key:
                cached = (key, _flow_file(path))
                self._read[path] = cached
            if cached[1] is not None:
                found.append(cached[1])
                if len(found) >= MAX_FLOW_FILES:
                    break
        for gone in set(self._read) - seen:
            del self._read[gone]
        return sorted(found, key=lambda f: f.path)

    def declaring(self, class_name: str) -> list[Path]:
        """Flow files that declare a class of this name."""
        return [f.path for f in self.files() if class_name in f.classes]

    def python_files(self):
        """(path, stat) of regular .py files inside the root; symlinks that lead out are skipped."""
        stack = [self.root]
        entries = 0
        while stack and entries < MAX_ENTRIES:
            folder = stack.pop()
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                entries += 1
                path = folder / name
                try:
                    st = path.stat()  # follows a symlink: checked against the root below
                except OSError:
                    continue
                if path.is_symlink() and not _inside(path.resolve(), self.root):
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if name not in SKIP_DIRS and not name.startswith(".") and not path.is_symlink():
                        stack.append(path)
                elif name.endswith(".py") and stat.S_ISREG(st.st_mode):  # never a FIFO or a device
                    yield path, st


def _flow_file(path: Path) -> FlowFile | None:
    head = read_head(path, HEAD_BYTES)
    if head is None:
        return None
    if "FlowSpec" not in head or "@step" not in head:
        return None
    return FlowFile(path=path, classes=tuple(_CLASS.findall(head)))


MAX_SOURCE_BYTES = 2_000_000  # a flow file, or a module it imports, read whole in the server


def source_text(path: Path) -> str | None:
    """The whole text of a project source file, for the server's own parsing (the syntax check,
    step versions, imports, hints); None for anything but a regular file of at most
    MAX_SOURCE_BYTES — a 20 MB generated file is left to the project's own Python to read."""
    text = read_head(path, MAX_SOURCE_BYTES + 1)
    return text if text is not None and len(text) <= MAX_SOURCE_BYTES else None


def read_head(path: Path, limit: int) -> str | None:
    """At most `limit` bytes of a regular file as text; None for anything else. Opened without
    blocking and checked after opening, so a FIFO swapped in after a stat cannot hang the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
