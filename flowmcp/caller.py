"""The environment of the caller a tool call serves. Standard library only: redaction reads it
on both sides (in the project's interpreter, a job's environment is its caller's).

A server serves one client, whose environment is the process's own; the project server
(`flowmcp/daemon`) serves many `flowmcp call` processes, and each call's flows get the caller's
environment, not the one of whoever started the server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar

CALLER_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("flowmcp_caller_env", default=None)


def environ() -> Mapping[str, str]:
    """The environment of the caller this code serves (see CALLER_ENV)."""
    caller = CALLER_ENV.get()
    return os.environ if caller is None else caller
