"""Steps that misbehave: 100 MB of output, a segfault, sys.exit — short answers, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server import build_server

from .conftest import call, make_project

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


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc to read the server's peak memory")
def test_a_step_printing_100_mb_keeps_the_server_small_and_the_answer_short(rough):
    server = subprocess.Popen([sys.executable, "-m", "flowmcp", "--root", str(rough)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        def send(message):
            server.stdin.write(json.dumps(message) + "\n")
            server.stdin.flush()

        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        server.stdout.readline()
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "run", "arguments": {"flow": "rough_flow.py", "parameters": {"mode": "print"}}}})
        reply = json.loads(server.stdout.readline())
        peak = _vm_hwm_mb(server.pid)
    finally:
        server.kill()
    result = reply["result"]
    assert not result.get("isError"), result["content"][0]["text"][:2000]
    assert len(result["content"][0]["text"]) < 2500
    print(f"server peak RSS with a 100 MB-printing step: {peak:.0f} MB")
    assert peak < 250
