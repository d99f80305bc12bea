"""Start-up and the HTTP transport: what a client sees before any flow runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from mcp import Client

from .conftest import TOOL_NAMES, make_project
from .support import free_port, wait_for_port
from .taskclient import TasksClient

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_server_import_leaves_metaflow_and_data_libraries_unloaded():
    code = ("import sys, flowmcp.cli.main, flowmcp.server, flowmcp.tools; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'metaflow', 'pandas', 'numpy', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _start(project, *extra: str, env=None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flowmcp", "serve", "--http", "--port", str(port),
                             "--root", str(project), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)
    wait_for_port(port, proc)
    return proc, port


@pytest.fixture
def http_server(tmp_path):
    proc, port = _start(make_project(tmp_path / "p", "params_flow.py"))
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_serves_the_tools_at_slash_mcp(http_server, mode):
    async with Client(http_server, mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == TOOL_NAMES
        result = await client.call_tool("list_runs", {})
        assert "params_flow.py (ParamsFlow): no runs yet" in result.content[0].text


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path):
    out = subprocess.run([sys.executable, "-m", "flowmcp", "serve", "--http", "--host", "0.0.0.0", "--port",
                          str(free_port()), "--root", str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "FLOWMCP_TOKEN"})
    assert out.returncode == 2
    assert "--token" in out.stderr and "FLOWMCP_TOKEN" in out.stderr


def _post(port: int, headers: dict[str, str]) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body, method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as ex:
        return ex.code


def test_a_token_is_checked_on_every_request_and_dns_rebinding_stays_blocked(tmp_path):
    env = dict(os.environ, FLOWMCP_TOKEN="s3cret-token")
    proc, port = _start(tmp_path, "--host", "0.0.0.0", env=env)
    try:
        assert _post(port, {}) == 401
        assert _post(port, {"authorization": "Bearer wrong"}) == 401
        assert _post(port, {"authorization": "Bearer s3cret-token"}) == 200
        assert _post(port, {"authorization": "bearer s3cret-token"}) == 200  # the scheme is case-insensitive
        assert _post(port, {"authorization": "Basic s3cret-token"}) == 401
        assert _post(port, {"authorization": "s3cret-token"}) == 401
        # a page on another site, resolved to this machine, must not get through
        assert _post(port, {"authorization": "Bearer s3cret-token", "host": "evil.example:80"}) in (403, 421)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _half_sent(port: int, count: int) -> list:
    """`count` connections that each send the start of a request and never finish it."""
    import socket

    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(s)
    return sockets


def _closed_by_server(s) -> bool:
    s.settimeout(0.2)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # reset
        return True


def test_slow_clients_cannot_hold_the_server_or_flood_its_log(tmp_path):
    """Half-sent requests (a byte now and then, before any token check) are closed at the request
    deadline; beyond the connection cap, new ones are closed at once; a real client is served
    meanwhile, and the log says so a handful of times, not once per connection."""
    import time

    env = dict(os.environ, FLOWMCP_HTTP_REQUEST_TIMEOUT_S="3", FLOWMCP_HTTP_MAX_CONNECTIONS="150")
    proc, port = _start(make_project(tmp_path / "p", "params_flow.py"), env=env)
    slow = []
    try:
        slow = _half_sent(port, 100)
        for s in slow[:50]:
            s.sendall(b"a")  # a byte now and then: uvicorn alone would keep waiting
        started = time.monotonic()
        assert _post(port, {}) == 200 and time.monotonic() - started < 2  # served meanwhile
        over = _half_sent(port, 100)  # 200 open, 150 allowed
        time.sleep(0.5)
        assert sum(_closed_by_server(s) for s in over) >= 45  # refused at once
        time.sleep(3.5)
        assert all(_closed_by_server(s) for s in slow), "a half-sent request outlived its deadline"
        assert _post(port, {}) == 200
        slow += over
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert output.count("closed a connection that sent no whole request") <= 6, output[-2000:]
    assert "Traceback" not in output, output[-2000:]


def test_a_body_that_is_json_but_no_json_rpc_message_is_an_invalid_request(http_server):
    body = json.dumps({"jsonrpc": "2.0", "id": 24, "method": 24}).encode()
    request = urllib.request.Request(http_server, data=body, method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=20)
    assert refused.value.code == 400
    answer = json.loads(refused.value.read())
    assert answer["id"] == 24 and answer["error"]["code"] == -32600


async def test_a_run_over_http_is_a_task_for_a_client_that_takes_tasks(http_server):
    tasks = TasksClient()
    async with Client(http_server, extensions=[tasks]) as client:
        result = await client.call_tool("run", {"flow": "params_flow.py"})
    assert result.structured_content["status"] == "succeeded" and len(tasks.created) == 1
    assert tasks.polls[-1]["status"] == "completed"
