"""Where the project is, which Python runs its flows, and the environment those flows get."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..caller import CALLER_ENV, environ
from ..errors import OutsideRootError
from .interpreter import DEFAULT_KEEP_SPINS, check_keep_spins, find_interpreter, project_root
from .layout import STATE_DIR

__all__ = ["CALLER_ENV", "DEFAULT_KEEP_SPINS", "DEFAULT_USER", "Config", "environ", "find_interpreter"]

DEFAULT_USER = "flowmcp"  # METAFLOW_USER when the environment names no usable user

MAX_PATH_CHARS = 4096  # PATH_MAX on Linux: a longer one is not a path
MAX_NAME_BYTES = 255  # NAME_MAX: one file or folder name
MAX_PATH_SHOWN = 200  # of a path echoed back in an error


@dataclass(frozen=True)
class Config:
    root: Path
    python: str
    python_source: str  # why this interpreter: "--python", "$VIRTUAL_ENV", ".venv", "server"
    extra_env: dict[str, str] = field(default_factory=dict)
    keep_spins: int = DEFAULT_KEEP_SPINS  # per flow; older spins are pruned after each spin
    warm: bool = True  # spin and describe in a warm worker (--no-warm: always a new interpreter)
    browser: str | None = None  # --browser: what view_card renders with (else $FLOWMCP_BROWSER, then PATH)

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, python: str | None = None,
               keep_spins: int = DEFAULT_KEEP_SPINS, warm: bool = True, browser: str | None = None) -> Config:
        root_path = project_root(root)
        check_keep_spins(keep_spins)
        interpreter, source = find_interpreter(root_path, python)
        return cls(root=root_path, python=interpreter, python_source=source, keep_spins=keep_spins, warm=warm,
                   browser=browser)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def resolve(self, path: str, *, what: str = "file") -> Path:
        """`path` (relative to the root, or absolute) as a real path inside the root.

        Symlinks are resolved first, so a link pointing out of the project is refused too."""
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            raise OutsideRootError(f"{what} path is empty or invalid; give a path relative to {self.root}")
        shown = path if len(path) <= MAX_PATH_SHOWN else f"{path[:MAX_PATH_SHOWN]}…(+{len(path) - MAX_PATH_SHOWN:,})"
        longest = max(len(part.encode("utf-8", "surrogatepass")) for part in Path(path).parts)
        if len(path) > MAX_PATH_CHARS or longest > MAX_NAME_BYTES:
            raise OutsideRootError(f"{what} path {shown!r} is too long ({len(path):,} characters, a name of "
                                   f"{longest:,} bytes; at most {MAX_PATH_CHARS:,} and {MAX_NAME_BYTES}): "
                                   f"give the path of a file under {self.root}")
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            real = candidate.resolve()
        except OSError as ex:  # a name too long for the file system, a symlink loop
            raise OutsideRootError(f"{what} path {shown!r} cannot be resolved ({ex.strerror or ex}); "
                                   f"give a path relative to {self.root}") from None
        if real != self.root and self.root not in real.parents:
            raise OutsideRootError(
                f"{what} {shown!r} is outside the project root {self.root}; "
                f"flowmcp only reads and runs files inside it (start the server with --root to change it)"
            )
        return real

    def relative(self, path: str | os.PathLike) -> str:
        """A path as the agent should read it: relative to the root when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except (ValueError, OSError):
            return str(path)

    def child_env(self) -> dict[str, str]:
        """Environment for every process that runs the user's flows."""
        env = dict(environ())
        # Metaflow refuses to run without a user name, and editors often start servers without one.
        # Metaflow also rejects "root", which is who CI and containers often are.
        if not env.get("METAFLOW_USER"):
            user = next((env[k] for k in ("USER", "USERNAME", "LOGNAME") if env.get(k)), None)
            if user in (None, "root"):
                env["METAFLOW_USER"] = DEFAULT_USER
        cache = self.state_dir / "client_cache"
        env.setdefault("METAFLOW_CLIENT_CACHE_PATH", str(cache))
        env["FLOWMCP_ROOT"] = str(self.root)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        env.pop("PYTHONSTARTUP", None)
        env.update(self.extra_env)
        return env
