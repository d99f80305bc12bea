"""End to end: the installed `flowmcp` command over stdio, as Claude Code or Cursor would start it."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from .conftest import TOOL_NAMES, make_project
from .support import RawSession

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"

# The command pip installed beside this interpreter (the venv's bin/), else one on PATH.
_BESIDE = Path(sys.executable).with_name("flowmcp")
FLOWMCP = str(_BESIDE) if _BESIDE.exists() else (shutil.which("flowmcp") or "")
needs_command = pytest.mark.skipif(
    not FLOWMCP and not os.environ.get("CI"), reason="the flowmcp command is not installed (pip install -e .)"
)


def _env_without_user() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep}


@needs_command
def test_stdio_channel_carries_only_protocol_messages_even_when_flows_print(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    session = RawSession([FLOWMCP], cwd=project, env=_env_without_user())
    try:
        started = time.perf_counter()
        session.send("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "raw", "version": "0"}})
        assert session.receive()["result"]["serverInfo"]["name"] == "flowmcp"
        session.send("notifications/initialized", notify=True)
        session.send("tools/list", {})
        tools = {t["name"] for t in session.receive()["result"]["tools"]}
        print(f"start to first tools/list: {time.perf_counter() - started:.2f} s")
        assert tools == TOOL_NAMES
        # The flow prints to stdout; with no USER in the environment Metaflow would refuse to run.
        session.send("tools/call", {"name": "run", "arguments": {"flow": "params_flow.py"}})
        result = session.receive()["result"]
        assert not result.get("isError"), result["content"][0]["text"]
        assert result["structuredContent"]["status"] == "succeeded"
        session.send("tools/call", {"name": "spin", "arguments": {"flow": "params_flow.py", "step": "score"}})
        result = session.receive()["result"]
        assert not result.get("isError"), result["content"][0]["text"]
        assert "result is" in result["structuredContent"]["stdout_tail"]
    finally:
        session.close()


@needs_command
async def test_installed_command_serves_the_sdk_client_in_the_modern_era(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    params = StdioServerParameters(command=FLOWMCP, args=["--root", str(project)], env=_env_without_user())
    async with Client(params) as client:
        result = await client.call_tool("spin", {"flow": "params_flow.py", "step": "score"})
        assert result.is_error
        assert "no runs yet" in result.content[0].text
        result = await client.call_tool("list_runs", {})
        assert "params_flow.py (ParamsFlow): no runs yet" in result.content[0].text


def test_python_dash_m_flowmcp_shows_the_commands():
    out = subprocess.run([sys.executable, "-m", "flowmcp", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in out.stdout and "demo" in out.stdout


@needs_command
def test_demo_walks_the_agent_loop_and_exits_zero(tmp_path):
    out = subprocess.run([FLOWMCP, "demo", "--dir", str(tmp_path / "demo")], capture_output=True, text=True,
                         env=_env_without_user(), timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Every step behaved" in out.stdout
    assert "Did you mean self.rows?" in out.stdout


@needs_command
def test_demo_never_overwrites_an_existing_project(tmp_path):
    (tmp_path / "product_flow.py").write_text("# mine\n")
    out = subprocess.run([FLOWMCP, "demo", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "choose an empty --dir" in out.stderr
    assert (tmp_path / "product_flow.py").read_text() == "# mine\n"


def test_the_server_starts_the_warm_worker_as_it_starts_and_its_first_spin_uses_it(tmp_path):
    """`flowmcp serve` starts the worker of the newest flow before it imports its own stack
    (bridge/early.py); the first spin finds it and no second worker is started."""
    project = make_project(tmp_path / "p", "params_flow.py")
    env = dict(os.environ, USER="tester")
    subprocess.run([sys.executable, "params_flow.py", "--quiet", "--no-pylint", "run"], cwd=project, env=env,
                   check=True, capture_output=True)
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(project)], env=env)
    try:
        session.initialize()
        early = project / ".flowmcp" / "workers" / f"w{session.proc.pid}-0.json"
        assert early.exists()  # started before the server answered initialize
        answer = session.tool("spin", {"flow": "params_flow.py", "step": "score"})
        assert answer["structuredContent"]["warm"] is True, answer
        assert answer["structuredContent"].get("path_note") is None, answer  # no restart, no refusal
        workers = sorted(p.name for p in (project / ".flowmcp" / "workers").glob("*.json"))
        assert workers == [early.name]
    finally:
        session.close()


def test_every_line_gets_an_answer_even_one_that_cannot_be_read(tmp_path):
    """A number of 5,000 digits, arrays nested 3,000 deep, JSON cut short, JSON that is not a
    JSON-RPC message, a request whose id is no string or integer: each gets its JSON-RPC error,
    with the request's id when it has one that can be read whole, and the server answers the next
    request as before."""
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(make_project(tmp_path / "p"))])
    try:
        session.initialize()
        lines = [
            (7, '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_runs","arguments":{"limit":'
                + "9" * 5000 + "}}}", -32700, "a number this long cannot be read"),
            (8, '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_runs","arguments":{"x":'
                + "[" * 3000 + "]" * 3000 + "}}}", -32700, "nested too deep"),
            ("nine", '{"jsonrpc":"2.0","id":"nine","method":', -32700, "EOF while parsing"),
            (None, '{"jsonrpc":"2.0","surprise":true}', -32600, "Invalid request"),
            (None, '{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"ping"}', -32700, "number out of range"),
            (None, '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600, "not an object"),
            (None, '{"jsonrpc":"2.0","id":[1],"method":"ping"}', -32600, "not an array"),
            (None, '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', -32600, "not a number out of range"),
            (None, '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, "not a fraction (1.5)"),
            (None, '{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600, "not a boolean"),
            (None, '{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, "not null"),
        ]
        for expected_id, line, code, words in lines:
            session.proc.stdin.write(line + "\n")
            session.proc.stdin.flush()
            ready, _, _ = select.select([session.proc.stdout], [], [], 20)
            assert ready, f"no answer to {line[:80]}…"
            answer = json.loads(session.proc.stdout.readline())
            assert answer.get("id") == expected_id and answer["error"]["code"] == code, answer
            assert words in answer["error"]["message"], answer
        session.send("ping")
        assert session.receive() == {"jsonrpc": "2.0", "id": session.next_id, "result": {}}
    finally:
        session.close()


def test_tools_list_carries_no_null_meta_for_clients_without_mcp_apps(tmp_path):
    """`_meta` is an object when present (the conformance suite checks it): the card viewer's link
    is taken out for a client that does not render MCP Apps, not set to null."""
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(make_project(tmp_path / "p"))])
    try:
        session.initialize()
        session.send("tools/list", {})
        tools = session.receive()["result"]["tools"]
        assert {t["name"] for t in tools} >= {"view_card", "spin"}
        assert all("_meta" not in t or isinstance(t["_meta"], dict) for t in tools), tools
        assert not any((t.get("_meta") or {}).get("ui") for t in tools)
    finally:
        session.close()


@pytest.mark.parametrize("fd", [0, 1])
def test_a_server_started_with_stdin_or_stdout_closed_says_so_and_leaves(tmp_path, fd):
    """A launcher that closes fd 0 (or 1) gave the event loop that number, which the transport
    then replaced with the null device: the server died in a traceback of the event loop."""
    root = make_project(tmp_path / "p")
    done = subprocess.run([sys.executable, "-m", "flowmcp", "--root", str(root)], preexec_fn=lambda: os.close(fd),
                          stderr=subprocess.PIPE, text=True, timeout=60, **({"stdout": subprocess.PIPE} if fd else {}))
    which = "input" if fd == 0 else "output"
    assert done.returncode == 2 and f"standard {which} is closed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
