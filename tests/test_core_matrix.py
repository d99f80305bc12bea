"""The end-to-end core — run, list_runs, inspect_artifact, spin and a failure's summary, warm and
cold — against one project interpreter: $FLOWMCP_MATRIX_PYTHON, else the one running the tests.

`.ci/matrix` runs this module once per cell of the support matrix (each Metaflow release and
Python named there); the plain suite runs it against its own interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import call, make_project

pytestmark = pytest.mark.anyio

PYTHON = os.environ.get("FLOWMCP_MATRIX_PYTHON") or sys.executable


def _describe(python: str) -> str:
    probe = "import sys, metaflow; print('Python %d.%d.%d' % sys.version_info[:3], 'Metaflow', metaflow.__version__)"
    return subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
async def test_the_core_works_with_the_project_interpreter(tmp_path, warm):
    print(f"project interpreter: {PYTHON} ({_describe(PYTHON)})")  # shown with -rA / -s: which cell ran
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root, PYTHON, warm=warm))) as c:
        text, run, is_error = await call(c, "run", flow="params_flow.py")
        assert not is_error and run["status"] == "succeeded", text
        pathspec = run["pathspec"]

        text, listed, is_error = await call(c, "list_runs", flow="params_flow.py")
        assert not is_error and listed["runs"][0]["pathspec"] == pathspec, text
        assert listed["runs"][0]["status"] == "succeeded", text

        text, artifact, is_error = await call(c, "inspect_artifact", pathspec=f"{pathspec}/join", name="total")
        assert not is_error and artifact["summary"] == "float 0.1", text

        text, spun, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and spun["status"] == "succeeded", text
        assert ("(warm worker)" in text) is warm, text
        assert "result = float 0.2" in text, text

        # A failure: the user's exception, their file:line and the value it was about, not Metaflow's frames.
        text, failed, is_error = await call(c, "run", flow="params_flow.py", parameters={"fail": True})
        assert failed["status"] == "failed", text
        assert "ValueError: refusing to score a total of 0.1" in text and "params_flow.py:27" in text, text
        assert "metaflow/" not in text, text

        text, spun, is_error = await call(c, "spin", flow="params_flow.py", step="score",
                                          run=failed["pathspec"])
        assert is_error and spun["status"] == "failed", text
        assert "ValueError: refusing to score a total of 0.1" in text and "params_flow.py:27" in text, text
