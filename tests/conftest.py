"""Shared fixtures: real flows in a temporary project, a server on it, clients in both eras."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App, browser
from flowmcp.server.build import build_server

from .support import free_port, wait_for_port

try:  # for the tests that draw with a real browser
    BROWSER = browser.find_browser()
except browser.BrowserMissing:
    BROWSER = None
    if os.environ.get("FLOWMCP_REQUIRE_BROWSER"):  # CI installs Debian's chromium: a missing one is a failure there
        raise
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no Chromium or Chrome on this machine")


def fake_browser(folder: Path, body: str) -> Path:
    """A stand-in for Chromium: a script that writes its pid to `folder/pid`, then runs `body`."""
    script = folder / "fake-chromium"
    script.write_text(f"#!{sys.executable}\nimport os, sys, time\n"
                      f"open({str(folder / 'pid')!r}, 'w').write(str(os.getpid()))\n{body}\n")
    script.chmod(0o755)
    return script

FLOWS = Path(__file__).parent / "flows"
TOOL_NAMES = {"run", "spin", "inspect_artifact", "list_runs", "flow_status", "run_status", "cancel_run", "resume",
              "get_logs", "list_cards", "doctor", "view_card"}


# Modules whose tests start Metaflow, a warm worker or the flowmcp command: the e2e tier. The
# fast tier (`pytest -m "not e2e"`) is the rest: pure functions, and every tool against the
# FakeBridge (tests/fakes.py) fed with records of real sessions.
E2E_MODULES = frozenset({
    "test_bench_smoke", "test_cli_options", "test_concurrency", "test_corpus", "test_degraded", "test_fuzz",
    "test_housekeeping", "test_inner_loop", "test_limits", "test_long_runs", "test_readme", "test_real_flows",
    "test_s3", "test_stdio_e2e", "test_tools", "test_transports", "test_warm", "test_workflow", "test_failure_classes",
    "test_warm_runs", "test_shared_root", "test_daemon", "test_orphans", "test_project_python", "test_resource_links",
    "test_doctor", "test_core_matrix", "test_release", "test_cards", "test_secrets", "test_links", "test_spares",
    "test_true_answers", "test_task_runs", "test_call_pictures",
})


def pytest_addoption(parser):
    parser.addoption("--installs", action="store_true",
                     help="also run the tests marked `installs`: flowmcp built and installed into fresh "
                          "virtualenvs from the package registry, about a minute (.ci/run runs them)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
    # A release built and installed as a user gets it checks the package, not the code under
    # development: CI runs these as a step of their own, the everyday suite leaves them out.
    if not config.getoption("installs"):
        left_out = [item for item in items if item.get_closest_marker("installs")]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not item.get_closest_marker("installs")]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_project(root: Path, *flows: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in flows:
        shutil.copy(FLOWS / name, root / name)
    return root


# `flowmcp call` in a test starts a project server in the background (flowmcp/daemon): one a test
# leaves running stops after two idle minutes, and those still running when the session ends go.
os.environ["FLOWMCP_DAEMON_IDLE_S"] = "120"


@pytest.fixture(scope="session", autouse=True)
def _no_project_servers_left(tmp_path_factory):
    yield
    base = os.fsencode(tmp_path_factory.getbasetemp())
    for process in Path("/proc").glob("[0-9]*"):
        try:
            argv = (process / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"daemon" in argv and b"run" in argv and any(arg.startswith(base) for arg in argv):
            with contextlib.suppress(OSError):
                os.kill(int(process.name), signal.SIGTERM)


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    # Metaflow needs a user name; tests that check the fallback remove it themselves.
    monkeypatch.setenv("USER", os.environ.get("USER") or "tester")


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "project", "params_flow.py")


@pytest.fixture(params=["auto", "legacy"])
def era(request) -> str:
    """Both protocol eras: `auto` negotiates 2026-07-28, `legacy` forces the initialize handshake."""
    return request.param


@pytest.fixture
async def client(project, era):
    server = build_server(App.create(project))
    async with Client(server, mode=era) as c:
        yield c


async def call(client, tool: str, **arguments):
    """Call a tool; return (text, structured, is_error)."""
    result = await client.call_tool(tool, arguments)
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, result.structured_content or {}, bool(result.is_error)


BUCKET = "flowmcp-test"


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server on 127.0.0.1, with Metaflow configured to use it as its datastore."""
    moto = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(moto).exists():
        pytest.skip("moto[server] is not installed")
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, server)
        for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_DEFAULT_REGION": "us-east-1", "METAFLOW_DEFAULT_DATASTORE": "s3",
                           "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{BUCKET}/metaflow",
                           "METAFLOW_S3_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
