"""The S3 datastore path on a real S3 API: moto's S3 server on 127.0.0.1, Metaflow configured
with METAFLOW_DEFAULT_DATASTORE=s3, and every core tool working against it."""

from __future__ import annotations

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import BUCKET, call, make_project

boto3 = pytest.importorskip("boto3")
pytestmark = pytest.mark.anyio


async def test_run_spin_inspect_and_list_runs_work_on_an_s3_datastore(s3_endpoint, tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(project))) as c:
        text, run, is_error = await call(c, "run", flow="params_flow.py", parameters={"alpha": 0.5})
        assert not is_error and run["status"] == "succeeded", text
        text, spun, is_error = await call(c, "spin", flow="params_flow.py", step="score", persist=True)
        assert not is_error, text
        assert {a["name"]: a["summary"] for a in spun["artifacts"]}["result"] == "float 1.0"
        text, total, is_error = await call(c, "inspect_artifact", pathspec=run["pathspec"] + "/join", name="total")
        assert not is_error and total["summary"] == "float 0.5", text
        _, runs, _ = await call(c, "list_runs", flow="params_flow.py")
        assert [r["pathspec"] for r in runs["runs"]] == [run["pathspec"]]
    stored = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix="metaflow/ParamsFlow/")
    assert stored.get("KeyCount", 0) > 0  # the artifacts really went to S3
    assert not (project / ".metaflow" / "ParamsFlow" / "data").exists()
