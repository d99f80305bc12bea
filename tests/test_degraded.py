"""A Metaflow without an internal flowmcp relies on: the feature that needs it is off, the plain
path answers, and the answer says so once. Each internal is hidden in turn
(FLOWMCP_HIDE_METAFLOW, read by bridge/metaflow_compat.py), on the real Metaflow."""

from __future__ import annotations

import shutil

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import FLOWS, call, make_project

pytestmark = pytest.mark.anyio


def _server(root, hide: str, monkeypatch):
    monkeypatch.setenv("FLOWMCP_HIDE_METAFLOW", hide)
    return Client(build_server(App.create(root)))


def _broken(root):
    source = (root / "params_flow.py").read_text()
    (root / "params_flow.py").write_text(source.replace("self.result = self.total * 2", "self.result = self.totl * 2"))


async def test_without_the_step_hook_failures_come_from_the_printed_traceback(tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with _server(root, "metaflow.task:MetaflowTask._exec_step_function", monkeypatch) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, _ = await call(c, "spin", flow="params_flow.py", step="score")
        assert not data["artifacts_listed"] and "not known" in text
        _broken(root)
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert is_error and text.startswith("params_flow.py:"), text  # the user's line, from the printed trace
        assert "AttributeError" in text and "totl" in text
        said = [t for t in (text,) if "lacks metaflow.task.MetaflowTask._exec_step_function" in t]
        assert not said  # said once, by the first answer that touched it


async def test_the_first_affected_answer_names_the_missing_internal(tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with _server(root, "metaflow.task:MetaflowTask._exec_step_function", monkeypatch) as c:
        text, _, _ = await call(c, "run", flow="params_flow.py")
        assert "this Metaflow lacks metaflow.task.MetaflowTask._exec_step_function" in text
        assert "read from printed tracebacks" in text
        text, _, _ = await call(c, "run", flow="params_flow.py")
        assert "lacks" not in text


async def test_without_the_spin_runtime_hook_spins_start_a_new_interpreter(tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with _server(root, "metaflow.runtime:SpinRuntime", monkeypatch) as c:
        text, _, is_error = await call(c, "run", flow="params_flow.py")
        assert not is_error and "lacks metaflow.runtime.SpinRuntime, so every spin starts a new interpreter" in text
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"] is False, text
        assert "lacks metaflow.runtime.SpinRuntime, which the warm path needs" in data["path_note"]


async def test_without_the_spin_guard_a_join_fails_as_under_metaflow_and_is_not_blamed_on_the_user(
        tmp_path, monkeypatch):
    root = tmp_path / "real"
    shutil.copytree(FLOWS / "real", root)
    async with _server(root, "metaflow.datastore.task_datastore:TaskDataStore.passdown_partial", monkeypatch) as c:
        text, _, is_error = await call(c, "run", flow="merge_flow.py")
        assert not is_error and "may fail as it does under Metaflow's own spin" in text
        text, data, is_error = await call(c, "spin", flow="merge_flow.py", step="join")
        assert is_error and data["failure"]["origin"] == "metaflow", text
        assert "Not your code: a known Metaflow 2.19 spin bug" in text and "fix the step" not in text


async def test_without_the_cli_hooks_flows_are_described_from_their_classes_and_errors_read_from_output(
        tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", "params_flow.py")
    source = (root / "params_flow.py").read_text()
    (root / "graph.py").write_text(source.replace("self.next(self.end)", "self.next(self.ned)"))
    async with _server(root, "metaflow.cli:show", monkeypatch) as c:
        text, status, is_error = await call(c, "flow_status", flow="params_flow.py")
        assert not is_error and status["steps"][0]["name"] == "start", text
        assert "described from their classes" in text
        text, _, is_error = await call(c, "run", flow="graph.py")
        assert is_error and "ned" in text, text
