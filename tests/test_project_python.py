"""A project interpreter without Metaflow, or with a release flowmcp does not support: every tool
says that fact and the command that fixes it, and the server goes on serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.bridge import protocol
from flowmcp.server.build import build_server

from .conftest import call, make_project

pytestmark = pytest.mark.anyio


@pytest.fixture
def bare_python(tmp_path):
    """A virtualenv with nothing installed (flowmcp's job code comes from its own folder)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    return tmp_path / "venv" / "bin" / "python"


async def test_an_interpreter_without_metaflow_is_said_with_the_fix(tmp_path, bare_python):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root, str(bare_python)))) as c:
        for tool, arguments in (("spin", {"flow": "params_flow.py", "step": "start"}),
                                ("list_runs", {"flow": "params_flow.py"}),
                                ("inspect_artifact", {"pathspec": "ParamsFlow/1/start/1", "name": "items"})):
            text, _, is_error = await call(c, tool, **arguments)
            assert is_error and f"The project's interpreter {bare_python} has no Metaflow" in text, text
            assert f"`{bare_python} -m pip install 'metaflow>=2.19.0,<2.20'`" in text and "--python" in text, text


async def test_an_unsupported_metaflow_is_said_with_the_fix(tmp_path, bare_python):
    site = next((bare_python.parent.parent / "lib").glob("python3*/site-packages"))
    (site / "metaflow").mkdir()
    (site / "metaflow" / "__init__.py").write_text('__version__ = "2.18.5"\n')
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root, str(bare_python)))) as c:
        text, _, is_error = await call(c, "spin", flow="params_flow.py", step="start")
        assert is_error and "has Metaflow 2.18.5" in text and "works with >=2.19.0,<2.20" in text, text
        assert f"{bare_python} -m pip install 'metaflow>=2.19.0,<2.20'" in text, text


@pytest.mark.parametrize("version, supported", [
    ("2.19.39", True), ("2.19.40", True), ("2.19.39.1", True), ("2.19.41+dev", True), ("2.19.0", True),
    ("2.20.0", False), ("2.18.13", False), ("2.18.9", False), ("garbage", False), ("3", False),
])
def test_which_metaflow_releases_are_supported(version, supported):
    assert protocol.metaflow_supported(version) is supported


OB_METAFLOW = "ob-metaflow==2.19.39.1"  # Outerbounds' distribution of the `metaflow` package


def _package_files(site) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((site / "metaflow").rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture
def ob_python(tmp_path):
    """A venv with ob-metaflow, then flowmcp installed into it as a user would (with its
    dependencies): the regression was that this pulled `metaflow` and overwrote ob-metaflow."""
    venv = tmp_path / "ob"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    subprocess.run([*pip, OB_METAFLOW], check=True, capture_output=True, timeout=600)
    site = next((venv / "lib").glob("python3*/site-packages"))
    before = _package_files(site)
    assert before, "ob-metaflow installed no metaflow package"
    subprocess.run([*pip, str(Path(__file__).resolve().parent.parent)], check=True, capture_output=True, timeout=600)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                            check=True).stdout
    names = {d["name"].lower() for d in json.loads(listed)}
    assert {"flowmcp", "ob-metaflow"} <= names and "metaflow" not in names, names
    assert _package_files(site) == before  # not one file of ob-metaflow's package changed
    return python


@pytest.mark.installs
async def test_flowmcp_installs_beside_ob_metaflow_and_runs_its_flows(tmp_path, ob_python):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root, str(ob_python)))) as c:
        text, run, is_error = await call(c, "run", flow="params_flow.py")
        assert not is_error and run["status"] == "succeeded", text
        text, _, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and "result = float" in text, text
        text, _, is_error = await call(c, "inspect_artifact", pathspec=f"{run['pathspec']}/join", name="total")
        assert not is_error and "0.1" in text, text
