"""Which project and which interpreter a command serves: the options every command resolves.

Standard library only, and no dataclasses: `flowmcp call` resolves these before it connects to
the project server, and every millisecond of its imports is paid by every call.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_KEEP_SPINS = 50


def project_root(root: str | os.PathLike | None) -> Path:
    """The project root as a real path (default: the working folder); ValueError if not a folder."""
    root_path = Path(root or os.getcwd()).expanduser().resolve()
    if not root_path.is_dir():
        raise ValueError(f"project root {root_path} is not a directory")
    return root_path


def check_keep_spins(keep_spins: int) -> None:
    if keep_spins < 1:
        raise ValueError(f"--keep-spins must be at least 1, got {keep_spins}")


def find_interpreter(root: Path, explicit: str | None) -> tuple[str, str]:
    """--python, else $VIRTUAL_ENV, else <root>/.venv, else the server's own interpreter."""
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_dir():  # a venv folder given instead of its python
            path = _venv_python(path) or path
        if not path.exists():
            raise ValueError(f"--python {explicit}: no such interpreter")
        return str(path), "--python"
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and (python := _venv_python(Path(venv))):
        return str(python), "$VIRTUAL_ENV"
    if python := _venv_python(root / ".venv"):
        return str(python), ".venv"
    return sys.executable, "server"


def _venv_python(venv: Path) -> Path | None:
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None
