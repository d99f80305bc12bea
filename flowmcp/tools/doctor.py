"""The `doctor` tool: `flowmcp doctor` for an agent — what is set up, what is not, and the fix."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from .. import models
from ..app.doctor import diagnose
from ._common import agent_errors, answer, app_of


async def doctor(ctx: Context) -> Annotated[CallToolResult, models.DoctorResult]:
    """Check that this project is set up for flowmcp: the project's Python and why it was chosen,
    its Metaflow (distribution, release, extensions), the user name, the profile's datastore and
    metadata service (tried for real), warm workers, the spin folder's size and the client configs.
    One line each, ✓ / ! / ✗, with the fix.

    Use it when runs or spins fail before any step starts, or something seems misconfigured.
    Takes up to ~20 s when a remote store does not answer."""
    with agent_errors("doctor"):
        report = await diagnose(app_of(ctx))
        return answer(report.text(), models.DoctorResult(**report.record()), is_error=False)
