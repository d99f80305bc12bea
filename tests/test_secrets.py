"""Secrets in every encoding an answer, its JSON, its resources and its cards use: a step prints,
keeps, draws and raises a token with a quote, a backslash and a non-ASCII letter in it, and no
form of it reaches the client (redaction: flowmcp/redaction.py)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server import build_server

from .conftest import make_project
from .test_redaction import TOKEN, _leaks

pytestmark = pytest.mark.anyio


def _everything(result) -> str:
    parts = [c.text for c in result.content if c.type == "text"]
    return "\n".join(parts) + json.dumps(result.structured_content or {}, ensure_ascii=False)


@pytest.fixture
def secret_project(tmp_path, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_API_TOKEN", TOKEN)
    return make_project(tmp_path / "p", "secret_flow.py")


async def test_no_form_of_a_secret_reaches_answers_resources_or_cards(secret_project):
    async with Client(build_server(App.create(secret_project))) as c:
        failed = await c.call_tool("run", {"flow": "secret_flow.py", "parameters": {"leak": True}})
        assert failed.is_error and not _leaks(_everything(failed)), _everything(failed)
        assert "$WAREHOUSE_API_TOKEN" in _everything(failed)

        run = await c.call_tool("run", {"flow": "secret_flow.py"})
        pathspec = run.structured_content["pathspec"]
        task = f"{pathspec}/start"
        answers = [run]
        for tool, arguments in (("inspect_artifact", {"pathspec": task, "name": "config"}),
                                ("inspect_artifact", {"pathspec": task, "name": "note"}),
                                ("inspect_artifact", {"pathspec": task, "name": "config", "path": '["tokens"][0]'}),
                                ("get_logs", {"pathspec": task, "stream": "stdout"}),
                                ("list_cards", {"pathspec": task}),
                                ("spin", {"flow": "secret_flow.py", "step": "start", "persist": True})):
            answer = await c.call_tool(tool, arguments)
            assert not answer.is_error, _everything(answer)
            answers.append(answer)
        for answer in answers:
            assert not _leaks(_everything(answer)), _everything(answer)
        assert "$WAREHOUSE_API_TOKEN" in _everything(answers[2])  # the artifact `note`
        task_id = answers[1].structured_content["pathspec"]
        for uri in (f"flowmcp://artifact/{task_id}/config", f"flowmcp://logs/{task_id}/stdout",
                    f"flowmcp://card/{task_id}/0"):
            (content,) = (await c.read_resource(uri)).contents
            assert not _leaks(content.text), (uri, _leaks(content.text))
        card = content.text
        data = re.search(r'__MF_DATA__\["[^"]*"\] = "([A-Za-z0-9+/=]+)"', card).group(1)
        decoded = base64.b64decode(data).decode()  # the card still decodes, and renders from it
        assert "connecting with $WAREHOUSE_API_TOKEN" in decoded and not _leaks(decoded)
