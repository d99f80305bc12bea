"""The doctor's checks that read files only (no Metaflow process): client configs and the spin
folder, each ✗ and ! provoked with real files, and the report's verdict."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flowmcp.app import doctor
from flowmcp.app.doctor import FAIL, OK, WARN, Check, Report, client_configs
from flowmcp.cli.init import init_project
from flowmcp.state.clients import registered_servers
from flowmcp.state.config import Config


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_configs_flowmcp_init_wrote_point_at_this_root(tmp_path):
    init_project(tmp_path, ["claude", "cursor", "vscode", "codex"], python=sys.executable)
    checks = _by_name(client_configs(tmp_path))
    assert set(checks) == {"client .mcp.json", "client .cursor/mcp.json", "client .vscode/mcp.json",
                           "client .codex/config.toml"}
    assert all(c.status == OK and "serves this root" in c.text for c in checks.values()), checks


def test_a_config_serving_another_checkout_fails_with_the_init_command(tmp_path):
    init_project(tmp_path, ["claude"], python=sys.executable)
    other = tmp_path.parent / "other-checkout"
    spec = json.loads((tmp_path / ".mcp.json").read_text())
    args = spec["mcpServers"]["flowmcp"]["args"]
    args[args.index("--root") + 1] = str(other)
    (tmp_path / ".mcp.json").write_text(json.dumps(spec))
    (check,) = client_configs(tmp_path)
    assert check.status == FAIL and f"it serves {other}, not this project" in check.text, check
    assert check.fix == f"`flowmcp init --root {tmp_path}` rewrites flowmcp's entry for this project"


def test_a_config_whose_command_or_interpreter_is_gone_fails(tmp_path):
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".cursor" / "mcp.json").write_text(json.dumps({"mcpServers": {
        "metaflow-tools": {"command": "/gone/venv/bin/flowmcp", "args": ["--python", "/gone/venv/bin/python"]},
        "unrelated": {"command": "npx", "args": ["some-server"]},
    }}))
    (check,) = client_configs(tmp_path)
    assert check.name == "client .cursor/mcp.json" and check.status == FAIL, check
    assert "server 'metaflow-tools'" in check.text  # found by its command, whatever its name
    assert "its command /gone/venv/bin/flowmcp does not exist" in check.text
    assert "its --python /gone/venv/bin/python does not exist" in check.text


def test_a_config_without_a_root_serves_where_the_client_starts_it(tmp_path):
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "mcp.json").write_text(json.dumps({"servers": {
        "flowmcp": {"type": "stdio", "command": sys.executable, "args": ["-m", "flowmcp"]}}}))
    (check,) = client_configs(tmp_path)
    assert check.status == OK and "the folder the client starts it in" in check.text, check


def test_a_config_that_cannot_be_read_fails(tmp_path):
    (tmp_path / ".mcp.json").write_text('{"mcpServers": {')
    (check,) = client_configs(tmp_path)
    assert check.status == FAIL and check.text.startswith("cannot be read (JSONDecodeError"), check


def test_no_config_is_a_warning_with_init(tmp_path):
    (check,) = client_configs(tmp_path)
    assert check.status == WARN and check.fix.startswith(f"`flowmcp init --root {tmp_path}`"), check
    assert registered_servers(tmp_path) == []


def test_a_spin_folder_over_the_limit_is_a_warning_with_its_size(tmp_path, monkeypatch):
    spin = tmp_path / ".metaflow_spin" / "ParamsFlow" / "1733000000000001" / "start"
    spin.mkdir(parents=True)
    (spin / "blob").write_bytes(b"x" * (3 * 1024 * 1024))
    (spin / "hardlink").hardlink_to(spin / "blob")  # counted once, as du does
    config = Config.create(tmp_path, sys.executable, keep_spins=7)
    check = doctor._spins(config)
    assert check.status == OK and check.text.startswith("3.0 MB in") and "(1 spins)" in check.text, check
    assert "the newest 7 spins of each flow are kept" in check.text
    monkeypatch.setenv("FLOWMCP_SPIN_WARN_MB", "2")
    check = doctor._spins(config)
    assert check.status == WARN and check.fix.startswith(f"spins are throw-away: `rm -rf {tmp_path}/.metaflow_spin`")


def test_the_verdict_counts_failures_and_warnings():
    root = Path("/p")
    assert Report(root, [Check("a", OK, "x")]).text().endswith("Everything flowmcp needs works.")
    warned = Report(root, [Check("a", OK, "x"), Check("b", WARN, "y", "do z")])
    assert warned.ok and warned.text().endswith("1 line(s) marked ! are worth a look.")
    assert "! b: y\n    fix: do z" in warned.text()
    failed = Report(root, [Check("a", FAIL, "x", "fix x"), Check("b", WARN, "y")])
    assert not failed.ok and failed.record()["ok"] is False
    assert failed.text().endswith("1 check(s) failed: flowmcp cannot work here until the ✗ lines are fixed.")
