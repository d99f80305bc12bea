"""`flowmcp call view_card ... --out card.png` with a real card in a real Chromium, through the
project server and in-process: the picture is written to the file and the answer says where."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from flowmcp.app import browser
from flowmcp.daemon.pictures import PNG_SIGNATURE

from .conftest import make_project

try:
    browser.find_browser()
    HAS_BROWSER = True
except browser.BrowserMissing:
    HAS_BROWSER = False
    if os.environ.get("FLOWMCP_REQUIRE_BROWSER"):  # CI installs Debian's chromium: a missing one is a failure there
        raise


def flowmcp(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowmcp", *args, "--root", str(project)], capture_output=True,
                          text=True, timeout=300, cwd=project, env={**os.environ, "FLOWMCP_DAEMON_IDLE_S": "120"})


@pytest.mark.skipif(not HAS_BROWSER, reason="no Chromium or Chrome on this machine")
def test_view_card_out_writes_the_picture_and_says_where(tmp_path):
    project = make_project(tmp_path / "cards", "card_flow.py")
    try:
        ran = flowmcp(project, "call", "run", "--args", '{"flow": "card_flow.py"}', "--json")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        pathspec = json.loads(ran.stdout)["pathspec"] + "/report"
        for where in ([], ["--no-daemon"]):
            out = tmp_path / f"card{len(where)}.png"
            shown = flowmcp(project, "call", "view_card", "--args", json.dumps({"pathspec": pathspec}),
                            "--out", str(out), *where)
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert out.read_bytes().startswith(PNG_SIGNATURE)
            assert f"Picture: {out} (PNG 1000×" in shown.stdout and "blank card" in shown.stdout
    finally:
        flowmcp(project, "daemon", "stop")
