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
from .test_daemon_trust import AS_ROOT, NOBODY

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_server_import_leaves_metaflow_and_data_libraries_unloaded():
    # tomlkit is `flowmcp init`'s, psutil the stops': neither at start (docs/architecture.md, Dependencies)
    code = ("import sys, flowmcp.cli.main, flowmcp.server.build, flowmcp.tools, flowmcp.daemon.client; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'metaflow', 'pandas', 'numpy', 'sklearn', "
            "'tomlkit', 'psutil'}))")
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


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}


def _post(port: int, headers: dict[str, str], body: bytes | None = None) -> int:
    return _exchange(port, headers, body)[0]


def _exchange(port: int, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body or json.dumps(INITIALIZE).encode(),
                                     method="POST", headers={"content-type": "application/json",
                                                             "accept": "application/json, text/event-stream",
                                                             **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read(2000)
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read()


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


def _as_nobody(port: int) -> int:
    """The status another user's initialize gets: POSTed from a child that became `nobody`."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, str(_post(port, {})).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as said:
        status = said.read()
    os.waitpid(pid, 0)
    return int(status)


@pytest.mark.parametrize("opened", [False, True])
def test_loopback_without_a_token_serves_its_own_user_alone(tmp_path, opened):
    """Another local user's initialize is refused unless the owner opened the server to them."""
    proc, port = _start(tmp_path, *(["--any-local-user"] if opened else []),
                        env={k: v for k, v in os.environ.items() if k != "FLOWMCP_TOKEN"})
    try:
        assert _post(port, {}) == 200
        if AS_ROOT:
            assert _as_nobody(port) == (200 if opened else 403)
        status, body = _exchange(port, {"x-forwarded-for": "10.0.0.9"})  # no stand-in for the client's address
        assert status == 200, body
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if not AS_ROOT:
        pytest.skip("the other user's part needs root (CI runs it)")


def test_a_host_or_origin_that_only_starts_like_ours_is_refused(tmp_path):
    proc, port = _start(tmp_path)
    try:
        assert _post(port, {"host": f"localhost:{port}"}) == 200
        assert _post(port, {"host": f"[::1]:{port}"}) == 200
        assert _post(port, {"host": "localhost:1@evil.example"}) == 421
        assert _post(port, {"host": "localhost:1.evil.example"}) == 421
        assert _post(port, {"origin": f"http://localhost:{port}"}) == 200
        assert _post(port, {"origin": "http://localhost:1@evil.example"}) == 403
        assert _post(port, {"origin": "http://localhost.evil.example"}) == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_request_whose_id_cannot_be_answered_gets_the_json_rpc_error(tmp_path):
    """An id that is an object, a fraction, 1e400, a boolean or null would be read as no id (202,
    no answer); one of 5,000 digits cannot be read: each gets its error, with a null id."""
    proc, port = _start(tmp_path)
    try:
        for request_id, words in (("{\"a\": 1}", "not an object"), ("1e400", "not a number out of range"),
                                  ("1.5", "not a fraction (1.5)"), ("true", "not a boolean"), ("null", "not null"),
                                  ("9" * 5000, "number out of range")):
            body = f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "initialize", "params": {{}}}}'.encode()
            status, answer = _exchange(port, {}, body)
            error = json.loads(answer)
            assert status == 400 and error["id"] is None and words in error["error"]["message"], (request_id, answer)
        assert _post(port, {}) == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _ended(stream) -> bool:
    """Whether the server closed a stream (after what it sent)."""
    stream.settimeout(0.5)
    try:
        while stream.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_open_event_streams_never_lock_a_new_client_out(tmp_path):
    """Sessions holding their GET stream open fill the connection cap: a new client still gets
    in, in place of the oldest stream (a client reopens a closed one)."""
    import socket

    env = dict(os.environ, FLOWMCP_HTTP_MAX_CONNECTIONS="40")
    proc, port = _start(make_project(tmp_path / "p", "params_flow.py"), env=env)
    streams = []
    try:
        for _ in range(60):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=json.dumps(INITIALIZE).encode(),
                                             method="POST", headers={"content-type": "application/json",
                                                                     "accept": "application/json, text/event-stream"})
            with urllib.request.urlopen(request, timeout=20) as response:
                session = response.headers["mcp-session-id"]
            stream = socket.create_connection(("127.0.0.1", port), timeout=5)
            stream.sendall(f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                           f"mcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n\r\n".encode())
            assert stream.recv(15) == b"HTTP/1.1 200 OK"
            streams.append(stream)
        assert _post(port, {}) == 200
        assert _ended(streams[0]) and not _ended(streams[-1])
    finally:
        for stream in streams:
            stream.close()
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
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
