"""Steps that misbehave: 100 MB of output, a segfault, sys.exit — short answers, bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server import build_server

from .conftest import call, make_project
from .support import RawSession

pytestmark = pytest.mark.anyio


@pytest.fixture
def rough(tmp_path):
    return make_project(tmp_path / "rough", "rough_flow.py")


async def test_a_segfaulting_step_is_reported_as_killed_by_sigsegv(rough):
    async with Client(build_server(App.create(rough))) as c:
        text, data, is_error = await call(c, "run", flow="rough_flow.py", parameters={"mode": "segfault"})
    assert is_error and data["status"] == "failed"
    assert data["failure"]["step"] == "start"
    assert "SIGSEGV" in text


async def test_a_step_calling_sys_exit_is_a_failure_that_says_how_to_end_instead(rough):
    async with Client(build_server(App.create(rough))) as c:
        text, data, is_error = await call(c, "run", flow="rough_flow.py", parameters={"mode": "exit"})
    assert is_error and data["status"] == "failed"
    assert text.startswith("rough_flow.py:19 in start — SystemExit: 3")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc to read the server's peak memory")
def test_a_step_printing_100_mb_keeps_the_server_small_and_the_answer_short(rough):
    server = RawSession([sys.executable, "-m", "flowmcp", "--root", str(rough)], stderr=subprocess.DEVNULL)
    try:
        server.initialize()
        result = server.tool("run", {"flow": "rough_flow.py", "parameters": {"mode": "print"}})
        peak = server.peak_rss_mb()
    finally:
        server.proc.kill()
    assert not result.get("isError"), result["content"][0]["text"][:2000]
    assert len(result["content"][0]["text"]) < 2500
    print(f"server peak RSS with a 100 MB-printing step: {peak:.0f} MB")
    assert peak < 250
