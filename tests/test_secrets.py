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
from flowmcp.server.build import build_server

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


LONG_SECRETS_FLOW = '''
import os

from metaflow import FlowSpec, Parameter, step


class LongSecretFlow(FlowSpec):
    """Secrets longer than any summary's cut: a GitHub token and a JWT, kept, nested, printed, raised."""

    fail = Parameter("fail", type=bool, default=False)

    @step
    def start(self):
        self.pat = os.environ["GITHUB_TOKEN"]
        self.jwt = os.environ["SERVICE_TOKEN"]
        self.headers = {"Authorization": "Bearer " + self.jwt, self.pat: "a key"}
        self.tokens = [self.pat, self.jwt, "x" + self.jwt]
        self.jwt_bytes = self.jwt.encode()
        print("calling with", self.jwt)
        if self.fail:
            raise PermissionError(f"the service refused the token {self.jwt} for this request")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LongSecretFlow()
'''


def _jwt(chars: int) -> str:
    """A JWT `chars` long, as a service issues them: header, claims and an RS256 signature."""
    import random

    def encode(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    rng = random.Random(7)
    header = encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    signature = encode(bytes(rng.randrange(256) for _ in range(256)))
    claims = {"sub": "analyst", "scope": "warehouse:read", "nonce": ""}
    room = chars - len(header) - len(signature) - 2 - len(encode(json.dumps(claims).encode()))
    claims["nonce"] = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(room * 3 // 4 + 2))
    token = f"{header}.{encode(json.dumps(claims).encode())}.{signature}"
    return token[:chars] if len(token) >= chars else token + "A" * (chars - len(token))


GITHUB_PAT = "github_pat_11AZQ3XYA0" + "Kq7vN2mP4xR8sT1uW6yB3cD5eF9gH0jL2nQ4rS7tV1wX3zA5bC8dE0fG2hJ4kM6pR9sU3wY5"
SERVICE_JWT = _jwt(935)
SAFE_CHARS = 7  # a secret's start shorter than redaction's MIN_FRAGMENT_CHARS may show; nothing longer


def _parts_of_secrets(blob: str) -> list[str]:
    """Each run of more than SAFE_CHARS characters of either secret that `blob` shows."""
    return [secret[i:i + SAFE_CHARS + 1] for secret in (GITHUB_PAT, SERVICE_JWT)
            for i in range(len(secret) - SAFE_CHARS) if secret[i:i + SAFE_CHARS + 1] in blob][:5]


@pytest.fixture
def long_secrets(tmp_path, monkeypatch):
    assert len(GITHUB_PAT) == 93 and len(SERVICE_JWT) == 935
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_PAT)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_JWT)
    root = make_project(tmp_path / "p")
    (root / "long_secret_flow.py").write_text(LONG_SECRETS_FLOW)
    return root


async def test_no_part_of_a_secret_longer_than_a_cut_reaches_run_spin_inspect_or_a_failure(long_secrets):
    async with Client(build_server(App.create(long_secrets))) as c:
        answers = {}
        answers["run"] = run = await c.call_tool("run", {"flow": "long_secret_flow.py"})
        assert not run.is_error, _everything(run)
        task = f"{run.structured_content['pathspec']}/start"
        for name in ("pat", "jwt", "headers", "tokens", "jwt_bytes"):
            answers[f"inspect {name}"] = await c.call_tool("inspect_artifact", {"pathspec": task, "name": name})
        answers["inspect a key"] = await c.call_tool("inspect_artifact", {"pathspec": task, "name": "headers",
                                                                          "path": '["Authorization"]'})
        answers["logs"] = await c.call_tool("get_logs", {"pathspec": task, "stream": "stdout"})
        answers["spin"] = await c.call_tool("spin", {"flow": "long_secret_flow.py", "step": "start"})
        answers["failed run"] = await c.call_tool("run", {"flow": "long_secret_flow.py", "parameters": {"fail": True}})
        answers["failed spin"] = await c.call_tool("spin", {"flow": "long_secret_flow.py", "step": "start",
                                                           "artifacts": {"fail": True}})
    for what, answer in answers.items():
        blob = _everything(answer)
        assert not _parts_of_secrets(blob), (what, _parts_of_secrets(blob), blob)
    assert answers["failed run"].is_error and answers["failed spin"].is_error
    assert "PermissionError: the service refused the token $SERVICE_TOKEN" in _everything(answers["failed run"])
    assert "str, 93 chars: '$GITHUB_TOKEN'" in _everything(answers["inspect pat"])
    assert "str, 935 chars: '$SERVICE_TOKEN'" in _everything(answers["inspect jwt"])


EVERY_PLACE_FLOW = '''
import json
import os

from metaflow import FlowSpec, step
from metaflow.metaflow_config import SERVICE_HEADERS


class EveryPlaceFlow(FlowSpec):
    """Secrets of common names, a URL's password, JSON headers, the Metaflow config file's own,
    a random value under a plain name, and a secret written in hex: kept, printed, drawn in text."""

    @step
    def start(self):
        names = ("MYSQL_PWD", "DB_PASS", "GH_PAT", "PGPASSWORD", "SMTP_PW", "DATABASE_URL", "BUILD_NONCE",
                 "UPLOAD_REF")
        self.settings = {name: os.environ[name] for name in names}
        self.headers = dict(SERVICE_HEADERS)  # the config file's METAFLOW_SERVICE_AUTH_KEY is in it
        home = os.environ["METAFLOW_HOME"]
        with open(os.path.join(home, "config_team.json")) as config:
            self.config = json.load(config)
        self.hex = os.environ["DB_PASS"].encode().hex()
        self.line = "connecting to %s with %s" % (os.environ["DATABASE_URL"], self.headers)
        print(self.line, self.settings, self.config, self.hex)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EveryPlaceFlow()
'''


async def test_secrets_of_every_name_and_place_reach_no_answer(tmp_path, monkeypatch):
    from .test_redaction import _environment, leaked

    _environment(monkeypatch, tmp_path)
    root = make_project(tmp_path / "p")
    (root / "every_place_flow.py").write_text(EVERY_PLACE_FLOW)
    async with Client(build_server(App.create(root))) as c:
        answers = {"run": await c.call_tool("run", {"flow": "every_place_flow.py"})}
        assert not answers["run"].is_error, _everything(answers["run"])
        task = f"{answers['run'].structured_content['pathspec']}/start"
        for name in ("settings", "headers", "config", "hex", "line"):
            answers[name] = answer = await c.call_tool("inspect_artifact", {"pathspec": task, "name": name})
            assert not answer.is_error, _everything(answer)
        answers["logs"] = await c.call_tool("get_logs", {"pathspec": task, "stream": "stdout"})
        task_id = answers["line"].structured_content["pathspec"]
        resources = {name: (await c.read_resource(f"flowmcp://artifact/{task_id}/{name}")).contents[0].text
                     for name in ("settings", "headers", "config")}
        resources["log"] = (await c.read_resource(f"flowmcp://logs/{task_id}/stdout")).contents[0].text
    for what, answer in answers.items():
        assert not leaked(_everything(answer)), (what, leaked(_everything(answer)), _everything(answer))
    for what, text in resources.items():
        assert not leaked(text), (what, leaked(text), text)
    assert "postgresql://app:$DATABASE_URL@db.internal" in _everything(answers["line"])
    assert "$METAFLOW_SERVICE_AUTH_KEY" in resources["headers"] and "$DB_PASS" in resources["log"]
