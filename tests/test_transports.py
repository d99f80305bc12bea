"""Start-up and the HTTP transport: what a client sees before any flow runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from mcp import Client

from .conftest import make_project

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_server_import_leaves_metaflow_and_data_libraries_unloaded():
    code = ("import sys, flowmcp.cli, flowmcp.server, flowmcp.tools; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'metaflow', 'pandas', 'numpy', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flowmcp", "serve", "--http", "--port", str(port),
                             "--root", str(project)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_serves_the_tools_at_slash_mcp(http_server, mode):
    async with Client(http_server, mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"run", "spin", "inspect_artifact", "list_runs", "flow_status", "run_status", "cancel_run"}
        result = await client.call_tool("list_runs", {})
        assert "params_flow.py (ParamsFlow): no runs yet" in result.content[0].text
