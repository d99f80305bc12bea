"""The modules a flow imports, found by reading (never running) the flow file and the project modules
it imports in turn: what a warm worker may preload. Project modules themselves are left out."""

from __future__ import annotations

import ast
from pathlib import Path

from ..state.catalog import source_text

MAX_FILES_READ = 200  # project modules followed from one flow file


def flow_imports(flow_file: Path, root: Path) -> frozenset[str]:
    """Dotted names of the non-project modules `flow_file` imports, directly or through the
    project's own modules (the flow's folder is where `python flow.py` finds those). Asked before
    every warm job: read again only when a file it read, or a folder it looked in, changed."""
    cached = _known.get((flow_file, root))
    if cached is not None and _stamps(cached[0]) == cached[1]:
        return cached[2]
    found, read = _flow_imports(flow_file, root)
    # A folder's time changes when a file appears in it or goes: a module that now shadows an
    # installed one, or a package that became a project module, is seen
    watched = sorted(read | {folder for path in read for folder in path.parents if root in folder.parents}
                     | {flow_file.parent, root})
    _known[(flow_file, root)] = (watched, _stamps(watched), found)
    return found


_known: dict[tuple[Path, Path], tuple[list[Path], list[tuple[int, int] | None], frozenset[str]]] = {}


def _stamps(paths: list[Path]) -> list[tuple[int, int] | None]:
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            stamps.append(None)
        else:
            stamps.append((stat.st_mtime_ns, stat.st_size))
    return stamps


def _flow_imports(flow_file: Path, root: Path) -> tuple[frozenset[str], set[Path]]:
    """(the names, the files read)."""
    flow_dir = flow_file.parent
    found: set[str] = set()
    seen: set[Path] = set()
    queue = [flow_file]
    while queue and len(seen) < MAX_FILES_READ:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        source = source_text(path)
        try:
            tree = ast.parse(source, filename=str(path)) if source is not None else None
        except (SyntaxError, ValueError):
            tree = None
        if tree is None:
            continue  # the job will say what is wrong with it
        for name, level in imported_names(tree):
            if level:
                queue.extend(_relative_files(path, name, level))
                continue
            files = local_files(name, flow_dir)
            if files is None and _is_local(name, root):
                files = []
            if files is None:
                found.add(name)
            else:
                queue.extend(files)
    return frozenset(found), seen


def imported_names(tree: ast.AST) -> list[tuple[str, int]]:
    """(dotted name, relative level) of every import, in functions too (steps often import inside
    their body), but not under `if TYPE_CHECKING:`, which never runs."""
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if base:
                out.append((base, node.level))
            # `from pkg import sub` may name a submodule; the worker checks which names are modules.
            out.extend((f"{base}.{alias.name}" if base else alias.name, node.level)
                       for alias in node.names if alias.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def local_files(name: str, folder: Path) -> list[Path] | None:
    """The files of project module `name` found in `folder`, or None when it is not one there."""
    parts = name.split(".")
    top = folder / parts[0]
    if (folder / f"{parts[0]}.py").is_file():
        return [folder / f"{parts[0]}.py"]
    if not top.is_dir():
        return None
    files = [top / "__init__.py"]
    here = top
    for part in parts[1:]:
        files += [here / f"{part}.py", here / part / "__init__.py"]
        here = here / part
    return [f for f in files if f.is_file()]


def _is_local(name: str, root: Path) -> bool:
    top = name.split(".")[0]
    return (root / f"{top}.py").is_file() or (root / top).is_dir()


def _relative_files(path: Path, name: str, level: int) -> list[Path]:
    base = path.parent
    for _ in range(level - 1):
        base = base.parent
    return local_files(name, base) or [] if name else []
