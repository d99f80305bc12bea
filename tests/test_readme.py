"""The README's promises: its tool reference matches the live schemas, its two lines are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowmcp import reference

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_readme_tool_reference_matches_the_tool_schemas():
    expected = reference.splice(README, await reference.generate())
    assert expected == README, "the README's tool reference is stale: run `python -m flowmcp.reference README.md`"


def test_ci_runs_the_readme_test_line():
    test_line = next(line for line in README.splitlines() if line.endswith("&& pytest"))
    assert test_line in (ROOT / ".ci" / "run").read_text()
