"""Steps that misbehave: 100 MB of output, a segfault, sys.exit — short answers, bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

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


async def test_a_fifo_named_like_a_flow_is_refused_at_once_and_the_server_keeps_serving(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    os.mkfifo(root / "pipe_flow.py")
    async with Client(build_server(App.create(root))) as c:
        import anyio

        with anyio.fail_after(20):  # nothing opens the FIFO for reading, so nothing blocks
            for tool, args in (("spin", {"flow": "pipe_flow.py", "step": "start"}), ("run", {"flow": "pipe_flow.py"})):
                text, _, is_error = await call(c, tool, **args)
                assert is_error and "is not a regular file" in text, text
            text, _, is_error = await call(c, "list_runs")
            assert not is_error, text


async def test_a_huge_flow_file_runs_without_the_server_parsing_it_whole(tmp_path):
    """A 3 MB flow file (generated code, a pasted dataset) is left to the project's Python: the
    server's own syntax check, step versions and import scan skip it, and the run works."""
    root = make_project(tmp_path / "p", "params_flow.py")
    source = (root / "params_flow.py").read_text()
    padding = "".join(f"# padding line {i:07d} " + "x" * 60 + "\n" for i in range(40_000))
    (root / "big_flow.py").write_text(source.replace("class ParamsFlow", padding + "class ParamsFlow"))
    assert (root / "big_flow.py").stat().st_size > 3_000_000
    async with Client(build_server(App.create(root))) as c:
        text, data, is_error = await call(c, "run", flow="big_flow.py")
        assert not is_error and data["status"] == "succeeded", text


async def test_a_catastrophic_log_pattern_is_stopped_and_said_so(tmp_path, monkeypatch):
    from flowmcp.bridge import client as bridge_client

    monkeypatch.setattr(bridge_client, "PATTERN_TIMEOUT_S", 3)
    root = make_project(tmp_path / "p", "params_flow.py")
    source = (root / "params_flow.py").read_text()
    (root / "params_flow.py").write_text(source.replace("class ParamsFlow", 'print("a" * 40)\n\n\nclass ParamsFlow'))
    async with Client(build_server(App.create(root))) as c:
        _, run, is_error = await call(c, "run", flow="params_flow.py")
        assert not is_error
        text, _, is_error = await call(c, "get_logs", pathspec=run["pathspec"] + "/start", stream="stdout",
                                       pattern="(a+)+b")
        assert is_error and "took longer than 3 s" in text and "simpler" in text, text
        text, _, is_error = await call(c, "get_logs", pathspec=run["pathspec"] + "/start", stream="stdout",
                                       pattern="a{40}")
        assert not is_error and "1 of" in text, text  # and the server goes on serving
