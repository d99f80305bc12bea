"""The project's flow files: one walk with one skip list, each file read again only when it changes.

A flow file is one `python FILE run` runs a flow from, told from its source as Python would import
it when the file runs as a script (its folder is sys.path[0], so `from base import BaseFlow` is
folder/base.py), never by importing it: it defines a FlowSpec subclass with steps — its own, or a
base class's from the same module, a sibling module or a package — and calls it. A module of base
flows that never starts one is not a flow file. Metaflow 2.19.23 lets any step be the start
(`@step(start=True)`), so steps are found by their decorator, not their names. The catalog also
keeps the classes each file declares, so the tools can tell when two files define a flow of the
same name (their runs share one history in Metaflow's datastore).
"""

from __future__ import annotations

import ast
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

# Hidden folders (.git, .venv, Metaflow's .metaflow and .metaflow_spin, flowmcp's .flowmcp) are
# skipped too, by their dot
SKIP_DIRS = frozenset({"venv", "node_modules", "__pycache__"})
MAX_ENTRIES = 5000  # folder entries looked at per walk
MAX_FLOW_FILES = 200
HEAD_BYTES = 200_000  # of each .py file, for the FlowSpec check
FRESH_S = 2.0  # a walk this recent answers again: every run and spin asks who else defines its flow
_CLASS = re.compile(r"^class\s+([A-Za-z_]\w*)\s*[(:]", re.MULTILINE)
FLOWSPEC = {"metaflow.FlowSpec", "metaflow.flowspec.FlowSpec"}  # what a flow class derives from, in the end
FLOW_MARKERS = ("FlowSpec", "@step")  # a file this Python cannot parse is a flow file if it holds both


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
        finder = FlowFinder()  # one per walk: each module parsed once, as often as it is imported
        for path, st in self.python_files():
            seen.add(path)
            key = (st.st_mtime_ns, st.st_size)
            cached = self._read.get(path)
            if cached is None or cached[0] != key:
                cached = (key, _flow_file(path, finder))
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


def _flow_file(path: Path, finder: FlowFinder) -> FlowFile | None:
    head = read_head(path, HEAD_BYTES)
    if head is None or "class" not in head:  # the cheap check first: a flow file defines a class
        return None
    if not finder.starts_a_flow(path):
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


# ---- which classes are flows, from the source alone


@dataclass(frozen=True)
class Imported:
    dotted: str  # "metaflow.FlowSpec", "base.BaseFlow", "pkg"
    folder: Path | None = None  # where a relative import looks; None: on sys.path (the flow's folder first)


@dataclass
class Module:
    classes: dict[str, ast.ClassDef]  # top-level classes
    imports: dict[str, Imported]  # by the name the module uses
    called: set[str]  # names called anywhere (`TrainFlow()` under `__main__`)


class FlowFinder:
    """Which classes are flows, read from the source as Python would import it when the flow file
    runs as a script: its folder is sys.path[0], so `from base import BaseFlow` is folder/base.py.
    Nothing is imported (a module may do anything when imported); a class whose base comes from
    an installed package other than Metaflow is taken for a flow when it has steps of its own."""

    def __init__(self):
        self._modules: dict[Path, Module | None] = {}

    def starts_a_flow(self, path: Path) -> bool:
        module = self.module(path)
        if module is None:  # not Python this interpreter parses (or unreadable): the text decides
            text = source_text(path) or ""
            return all(marker in text for marker in FLOW_MARKERS)
        return any(name in module.called and self.has_steps(path.parent, path, name) for name in module.classes)

    def has_steps(self, folder: Path, path: Path, name: str, seen: frozenset = frozenset()) -> bool | None:
        """True or False for a flow class (with steps or without); None for any other class."""
        module = self.module(path)
        if module is None or (path, name) in seen:
            return None
        seen |= {(path, name)}
        if name not in module.classes:  # re-exported, as a package's __init__ does
            return self.resolve(folder, module.imports[name], seen) if name in module.imports else None
        cls = module.classes[name]
        bases = [self.resolve_base(folder, path, module, base, seen) for base in cls.bases]
        if all(base is None for base in bases):
            return None
        return own_steps(cls) or any(bases)

    def resolve_base(self, folder: Path, path: Path, module: Module, base: ast.expr, seen: frozenset) -> bool | None:
        parts = dotted_name(base)
        if not parts:
            return None
        if parts[0] in module.imports:
            imported = module.imports[parts[0]]
            return self.resolve(folder, Imported(".".join([imported.dotted, *parts[1:]]), imported.folder), seen)
        if len(parts) == 1 and parts[0] in module.classes:
            return self.has_steps(folder, path, parts[0], seen)
        return None

    def resolve(self, folder: Path, name: Imported, seen: frozenset) -> bool | None:
        if name.dotted in FLOWSPEC:
            return False
        parts = name.dotted.split(".")
        search = name.folder or folder
        if len(parts) > 1 and (found := local_module(search, parts[:-1])):
            return self.has_steps(folder, found, parts[-1], seen)
        if name.folder or parts[0] == "metaflow" or local_module(search, parts[:1]):
            return None  # another of Metaflow's classes, or a local module's non-flow
        return False  # an installed package's class: a flow only if the class has steps of its own

    def module(self, path: Path) -> Module | None:
        if path not in self._modules:
            self._modules[path] = read_module(path)
        return self._modules[path]


def read_module(path: Path) -> Module | None:
    text = source_text(path)  # a regular file of a sane size only: never a FIFO, never 1 GB
    if text is None:
        return None
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError):
        return None
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    imports: dict[str, Imported] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                imports[local] = Imported(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom):
            # `from .base import BaseFlow` in pkg/__init__.py looks in pkg/; `..` one folder up
            anchor = path.parents[min(node.level, len(path.parents)) - 1] if node.level else None
            for alias in node.names:
                dotted = ".".join(filter(None, [node.module, alias.name]))
                imports[alias.asname or alias.name] = Imported(dotted, anchor)
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return Module(classes, imports, called)


def local_module(folder: Path, parts: list[str]) -> Path | None:
    """The file `import a.b` finds in `folder`."""
    base = folder.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def dotted_name(node: ast.expr) -> list[str]:
    """`a.b.C` as ["a", "b", "C"]; [] for anything else (a call, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


def own_steps(cls: ast.ClassDef) -> bool:
    """A method under `@step`, `@step(start=True)` or `@metaflow.step` (Metaflow 2.19.23+ names any
    step the start)."""
    decorators = (d.func if isinstance(d, ast.Call) else d
                  for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for d in node.decorator_list)
    return any(dotted_name(d)[-1:] == ["step"] for d in decorators)
