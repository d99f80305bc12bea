"""Redaction in every encoding, as pure functions (flowmcp/redaction.py); tests/test_secrets.py
drives the same token through real flows, tools, resources and cards."""

from __future__ import annotations

import base64
import json
import urllib.parse

from flowmcp import redaction

TOKEN = 'tök-"9f8e\\7d6c5b4a'  # a quote, a backslash and a non-ASCII letter: each escaped somewhere


def _leaks(blob: str) -> list[str]:
    """The forms of TOKEN found in `blob`."""
    raw = TOKEN.encode()
    candidates = {"raw": TOKEN, "repr": repr(TOKEN)[1:-1], "json": json.dumps(TOKEN)[1:-1],
                  "url": urllib.parse.quote(TOKEN, safe=""), "base64": base64.b64encode(raw).decode()[:-4],
                  "the letters": "9f8e"}
    return [name for name, form in candidates.items() if form in blob]


def test_every_form_is_found_inside_longer_text(monkeypatch):
    monkeypatch.setenv("A_SECRET_KEY", TOKEN)
    raw = TOKEN.encode()
    for prefix in (b"", b"a", b"ab"):  # the three base64 alignments
        blob = base64.b64encode(prefix + raw + b"tail").decode()
        assert not _leaks(redaction.redact(blob)), blob
    for text in (repr({"k": TOKEN}), json.dumps([TOKEN]), json.dumps(TOKEN, ensure_ascii=False),
                 "https://x/?t=" + urllib.parse.quote(TOKEN, safe=""), "<p>" + TOKEN.replace('"', "&quot;") + "</p>"):
        assert not _leaks(redaction.redact(text)) and "$A_SECRET_KEY" in redaction.redact(text), text
    assert redaction.redact("a short KEY value stays") == "a short KEY value stays"


def test_structured_data_is_redacted_before_it_is_serialised(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", TOKEN)
    data = redaction.redact_data({"url": "x" + TOKEN, TOKEN: [TOKEN, 3, None]})
    assert data == {"url": "x$DB_PASSWORD", "$DB_PASSWORD": ["$DB_PASSWORD", 3, None]}


PAT = "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"


def _parts(blob: str, secret: str = PAT) -> list[str]:
    """Runs of MIN_FRAGMENT_CHARS characters of `secret` that `blob` shows."""
    n = redaction.MIN_FRAGMENT_CHARS
    return [secret[i:i + n] for i in range(len(secret) - n + 1) if secret[i:i + n] in blob]


def test_every_cut_redacts_before_it_cuts(monkeypatch):
    from flowmcp.summarize import artifacts
    from flowmcp.summarize.text import condense_message, cut_end, cut_middle

    monkeypatch.setenv("GITHUB_TOKEN", PAT)
    message = "The service refused " + PAT + " for this request, " + "and then some more words " * 30
    cuts = [cut_end(PAT * 3, 60), cut_middle("x" * 50 + PAT + "y" * 50, 60), cut_middle(PAT, 40),
            condense_message(message), artifacts.describe(PAT), artifacts.describe({PAT: [PAT] * 3}),
            artifacts.describe({"k" + PAT: 1}), artifacts.describe("a" * 30 + PAT)]
    for cut in cuts:  # a whole secret is left to the answer's redaction; no part of one is left at all
        assert not _parts(cut.replace(PAT, "")), cut
    assert all("$GITHUB_TOKEN" in cut for cut in cuts[3:]), cuts


def test_what_a_cut_elsewhere_leaves_of_a_secret_is_redacted(monkeypatch):
    import reprlib

    monkeypatch.setenv("GITHUB_TOKEN", PAT)
    cut_by_others = {
        "reprlib": reprlib.repr(PAT),  # 'github_pat...sU3wY5': both ends
        "pandas": PAT[:47] + "...",
        "a log line cut in bytes": "auth " + PAT[:30] + " … 4,096 bytes cut … " + PAT[-20:] + " ok",
        "a summary": "str, 93 chars: '" + PAT[:60] + "'…+33 chars",
        "json of a cut": json.dumps(PAT[:50] + "…")[1:-1],
    }
    for where, text in cut_by_others.items():
        redacted = redaction.redact(text)
        assert not _parts(redacted) and "$GITHUB_TOKEN" in redacted, (where, redacted)
    # Beside no marker, a shared start is ordinary text (a path shares a path-like secret's start).
    monkeypatch.setenv("SESSION_KEY", "/home/alice/.local/session-4f1c")
    assert redaction.redact("root /home/alice/.local/share/flows") == "root /home/alice/.local/share/flows"
    assert redaction.redact("/home/alice/.local/sess…") == "$SESSION_KEY…"
    assert redaction.redact(PAT[:7] + "…") == PAT[:7] + "…"  # shorter than MIN_FRAGMENT_CHARS: says nothing


def test_tokens_of_known_shapes_are_redacted_whole_or_cut_wherever_they_come_from():
    jwt = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
           "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    shapes = {"ghp_" + "a1B2" * 9: "GitHub token", PAT[:40] + "…": "GitHub token",
              "xoxb-123456789012-abcdefgh": "Slack token",
              "AIzaSyA-" + "x1" * 16: "Google API key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc": "Stripe key",
              "AKIAIOSFODNN7EXAMPLE": "AWS access key id", "AKIAIOSFODNN…": "AWS access key id",
              "sk-proj-" + "Ab3" * 10: "API key", jwt: "JWT", jwt[:60] + "…": "JWT"}
    for token, what in shapes.items():
        redacted = redaction.redact(f"token={token} ok")
        assert redacted.startswith(f"token=[redacted {what}]") and redacted.endswith(" ok"), (token, redacted)
    for ordinary in ("task-id 0 failed", "scikit-learn and sk-learn", "ASIAPACIFIC2024 sales", "a risk-free-rate-2024",
                     "xghp_abcdefghijkl", "eyJfoo is base64 of {\"foo"):
        assert redaction.redact(ordinary) == ordinary


# Secrets of every common name and place (issue 28, medium 8): each value below is unique in the
# test, so a leak is its presence in an answer.
NAMED = {"MYSQL_PWD": "mysql-pw-7Hq2", "DB_PASS": "db-pass-x9Kd", "GH_PAT": "gh-pat-Q3zR81",
         "PGPASSWORD": "pg-pw-L0w9Tz", "SMTP_PW": "smtp-pw-88aB"}
DB_PASSWORD = "s3cr3t-Db!pw"
RANDOM_VALUE = "Zx8Kq2Lm9Vb4Nw7Rt5Ys3Pd6"  # 24 characters of noise, under a name that says nothing
HEX_VALUE = "9f2c4e8a1b7d3f6052e9a8c4b1d7e3f0"
HEADER_KEY = "hdr-key-Uv42Wx"
BEARER = "bearer-tok-Mn83Pq"
CONFIG_KEY = "cfg-auth-Jk57Lm"
CONFIG_HEADER = "cfg-hdr-Tp19Qs"


def _environment(monkeypatch, tmp_path) -> None:
    for name, value in NAMED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{urllib.parse.quote(DB_PASSWORD)}@db.internal:5432/app")
    monkeypatch.setenv("BUILD_NONCE", RANDOM_VALUE)
    monkeypatch.setenv("UPLOAD_REF", HEX_VALUE)
    monkeypatch.setenv("METAFLOW_SERVICE_HEADERS",
                       json.dumps({"x-api-key": HEADER_KEY, "Authorization": f"Bearer {BEARER}", "x-team": "ml"}))
    home = tmp_path / "mfhome"
    home.mkdir()
    (home / "config_team.json").write_text(json.dumps({
        "METAFLOW_SERVICE_AUTH_KEY": CONFIG_KEY, "METAFLOW_SERVICE_HEADERS": {"x-extra-token": CONFIG_HEADER},
        "METAFLOW_DEFAULT_DATASTORE": "local"}))
    monkeypatch.setenv("METAFLOW_HOME", str(home))
    monkeypatch.setenv("METAFLOW_PROFILE", "team")


SECRETS = [*NAMED.values(), DB_PASSWORD, RANDOM_VALUE, HEX_VALUE, HEADER_KEY, BEARER, CONFIG_KEY, CONFIG_HEADER]


def leaked(text: str) -> list[str]:
    """The secrets above found in `text`, as they are, URL-quoted, or hex-encoded."""
    return [s for s in SECRETS if s in text or urllib.parse.quote(s) in text or s.encode().hex() in text]


def test_secrets_by_name_url_password_json_member_config_file_and_randomness(monkeypatch, tmp_path):
    _environment(monkeypatch, tmp_path)
    text = " ".join(SECRETS) + " " + " ".join(s.encode().hex() for s in SECRETS)
    redacted = redaction.redact(text)
    assert not leaked(redacted), (leaked(redacted), redacted)
    for name in ("$MYSQL_PWD", "$DB_PASS", "$GH_PAT", "$DATABASE_URL", "$BUILD_NONCE", "$UPLOAD_REF",
                 "$METAFLOW_SERVICE_HEADERS", "$METAFLOW_SERVICE_AUTH_KEY"):
        assert name in redacted, (name, redacted)
    url = "postgresql://app:" + urllib.parse.quote(DB_PASSWORD) + "@db.internal:5432/app"
    assert redaction.redact(f"connecting to {url}") == "connecting to postgresql://app:$DATABASE_URL@db.internal:5432/app"
    assert redaction.redact(repr({"x-api-key": HEADER_KEY})) == "{'x-api-key': '$METAFLOW_SERVICE_HEADERS'}"


def test_any_urls_password_is_redacted_wherever_it_comes_from():
    for url, shown in (("https://bob:pa55word-xyz@git.example/r", "https://bob:[redacted password]@git.example/r"),
                       ("redis://:short@cache:6379/0", "redis://:[redacted password]@cache:6379/0"),
                       ("mysql+pymysql://u:p%40ss@db/x", "mysql+pymysql://u:[redacted password]@db/x")):
        assert redaction.redact(f"url={url} ok") == f"url={shown} ok"
    for ordinary in ("http://localhost:8080/api", "see https://example.com/a@b", "user@example.com:22",
                     "ssh://git@github.com/x.git"):
        assert redaction.redact(ordinary) == ordinary
    assert redaction.without_passwords("https://u:v3ry-s3cret@h/api") == "https://u:[redacted password]@h/api"


def test_what_is_no_secret_stays(monkeypatch, tmp_path):
    monkeypatch.setenv("PWD", str(tmp_path / "a-folder-of-the-project"))  # the shell's, no password
    monkeypatch.setenv("BUCKET", "my-project-staging-bucket-2024")
    monkeypatch.setenv("RUNTIME", "Python-3.11.7-linux")
    monkeypatch.setenv("RUN_ID", "1796588707854919")
    monkeypatch.setenv("PASSENGER_COUNT_COLUMN", "passenger_count")  # PASS inside a word
    text = f"{tmp_path}/a-folder-of-the-project my-project-staging-bucket-2024 Python-3.11.7-linux 1796588707854919 " \
           "passenger_count"
    assert redaction.redact(text) == text


def test_random_looking_values_are_told_from_words_paths_and_numbers():
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    missed = [v for v in ("".join(secrets.choice(alphabet) for _ in range(40)) for _ in range(500))
              if not redaction.random_looking(v)]
    assert len(missed) <= 5, missed  # a 40-character token without a digit or a capital is rare
    assert all(redaction.random_looking(secrets.token_hex(n)) for n in (16, 20, 32))
    assert redaction.random_looking("94d6809e-8a01-43ba-bbb9-55d2f3c70595")  # a UUID
    for ordinary in ("/usr/local/lib/python3.11/site-packages", "my-project-staging-bucket-2024", "1796588707854919",
                     "en_US.UTF-8", "xterm-256color", "deadbeef" * 4 + "x", "a b c d e f g h i j k"):
        assert not redaction.random_looking(ordinary), ordinary
