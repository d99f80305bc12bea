"""The house's layers (docs/architecture.md): each package imports only its own layer and the ones
below, and no modules import each other in a circle — imports inside functions count; imports
under `if TYPE_CHECKING:` do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flowmcp"

# From the top down: a module may import its own layer and any layer below it, never one above.
LAYERS = [
    ("edge", ("flowmcp.__main__", "flowmcp.cli", "flowmcp.testing")),
    ("project server", ("flowmcp.daemon",)),
    ("MCP server", ("flowmcp.server",)),
    ("tools", ("flowmcp.tools",)),
    ("app", ("flowmcp.app",)),
    ("bridge", ("flowmcp.bridge",)),
    ("summaries", ("flowmcp.summarize",)),
    ("project state", ("flowmcp.state",)),
    ("vocabulary", ("flowmcp.errors", "flowmcp.models", "flowmcp.redaction", "flowmcp.caller", "flowmcp")),
]
MAX_TOP_LEVEL_MODULES = 10
MAX_MODULE_LINES = 550


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def layer_of(module: str) -> int:
    """The index of the module's layer: the longest prefix that names one."""
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer: add its package to LAYERS and docs/architecture.md"
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str) -> set[str]:
    """The flowmcp modules `module` imports, wherever in its code, but under TYPE_CHECKING."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:  # `from . import tools` imports a module; `from .app import App`, a name
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_import_points_to_the_same_layer_or_one_below():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in GRAPH.items() for t in targets if layer_of(t) < layer_of(m)]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    # Tarjan's strongly connected components: every component of more than one module is a circle
    index, low, on_stack, stack, circles = {}, {}, set(), [], []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            connect(module)
    assert circles == []


def test_a_package_importing_its_own_submodules_is_not_a_circle_of_the_check():
    # the check itself: a module that imports its parent package through `from . import x` is
    # followed to x, not to the package's __init__
    assert "flowmcp.summarize.artifacts.handlers" in GRAPH["flowmcp.summarize.artifacts"]
    assert "flowmcp.summarize.artifacts" not in GRAPH["flowmcp.summarize.artifacts.handlers"]


def test_the_top_level_shows_the_layers_and_no_module_is_too_long_to_hold_in_mind():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_TOP_LEVEL_MODULES, loose
    too_long = {module: n for module, path in MODULES.items()
                if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}
