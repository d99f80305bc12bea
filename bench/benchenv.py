"""The environment every benchmark gives the plain Metaflow CLI: a user name Metaflow accepts.

Metaflow refuses to run without USER (editors and CI often start without one) and refuses "root"
(containers often are root); flowmcp sets METAFLOW_USER itself, so the CLI side must too.
"""

from __future__ import annotations

import os

FALLBACK_USER = "bench"


def metaflow_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    if not env.get("METAFLOW_USER") and env.get("USER", "root") in ("", "root"):
        env["METAFLOW_USER"] = FALLBACK_USER
    return env
