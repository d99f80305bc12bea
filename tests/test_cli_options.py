"""The `flowmcp` command's project options mean the same before and after a command, or are refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import make_project

FLOWMCP = [sys.executable, "-m", "flowmcp"]


def flowmcp(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*FLOWMCP, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("where", ["before", "after"])
def test_init_writes_into_the_root_given_before_or_after_the_command(tmp_path, where):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    args = ["--root", str(project), "init", "--client", "claude"] if where == "before" else [
        "init", "--client", "claude", "--root", str(project)]
    out = flowmcp(*args, cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert (project / ".mcp.json").exists() and (project / "CLAUDE.md").exists()
    assert list(elsewhere.iterdir()) == []
    server = json.loads((project / ".mcp.json").read_text())["mcpServers"]["flowmcp"]
    assert server["args"][server["args"].index("--root") + 1] == str(project.resolve())


def test_init_carries_server_options_into_the_registered_command(tmp_path):
    out = flowmcp("--no-warm", "--root", str(tmp_path), "init", "--client", "cursor", "--keep-spins", "7",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    args = json.loads((tmp_path / ".cursor" / "mcp.json").read_text())["mcpServers"]["flowmcp"]["args"]
    assert args[args.index("--keep-spins") + 1] == "7" and "--no-warm" in args


def test_call_serves_the_root_given_before_the_command(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    out = flowmcp("--root", str(project), "call", "list_runs", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    files = [f["file"] for f in json.loads(out.stdout)["flows"]]
    assert files == ["params_flow.py"]


@pytest.mark.parametrize("command", [["call", "list_runs"], ["init"], ["serve"]])
def test_a_missing_interpreter_before_the_command_is_an_error(tmp_path, command):
    out = flowmcp("--python", str(tmp_path / "no-such-python"), *command, cwd=tmp_path)
    assert out.returncode == 2
    assert "no such interpreter" in out.stderr
    assert list(tmp_path.iterdir()) == []  # init wrote nothing


def test_the_same_option_twice_with_different_values_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    out = flowmcp("--root", str(tmp_path / "a"), "init", "--root", str(tmp_path / "b"), cwd=tmp_path)
    assert out.returncode == 2
    assert "--root is given twice" in out.stderr
    assert list((tmp_path / "a").iterdir()) == [] and list((tmp_path / "b").iterdir()) == []


def test_project_options_that_do_not_apply_to_demo_are_refused(tmp_path):
    out = flowmcp("--root", str(tmp_path), "demo", cwd=tmp_path)
    assert out.returncode == 2
    assert "does not apply to demo" in out.stderr


def test_init_refuses_a_root_that_is_not_a_folder(tmp_path):
    out = flowmcp("--root", str(tmp_path / "missing"), "init", cwd=tmp_path)
    assert out.returncode == 2
    assert "is not a directory" in out.stderr
    assert not (tmp_path / "missing").exists()


def test_call_with_a_missing_argument_is_a_usage_error(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    out = flowmcp("--root", str(project), "call", "spin", "--args", '{"flow": "params_flow.py"}', cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("flowmcp call spin: missing required argument step; it takes: flow (required)")


def test_call_into_a_reader_that_went_away_ends_without_a_traceback(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    process = subprocess.Popen([*FLOWMCP, "--root", str(project), "call", "list_runs"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # `flowmcp call ... | head -0`: the reader is gone before the answer
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
