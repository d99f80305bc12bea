"""`flowmcp doctor` and the `doctor` tool: every ✗ and ! it can report, each provoked for real
(an interpreter without Metaflow, a profile that does not exist, an S3 endpoint and a metadata
service that do not answer, ...), and the exit status a script reads."""

from __future__ import annotations

import base64
import http.server
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.app.doctor import run_doctor
from flowmcp.cli.init import init_project
from flowmcp.server.build import build_server

from .conftest import call, make_project
from .support import free_port


def doctor(root: Path, python: str | None = None, **options) -> tuple[int, str]:
    """`flowmcp doctor` in this process: (exit status, report)."""
    out = io.StringIO()
    code = run_doctor(str(root), python, keep_spins=options.get("keep_spins", 50), warm=options.get("warm", True),
                      out=out)
    return code, out.getvalue()


def line(report: str, name: str) -> str:
    """The check's line, with its fix line when it has one."""
    lines = report.splitlines()
    for i, text in enumerate(lines):
        if text[2:].startswith(name + ":"):
            return "\n".join([text] + [f for f in lines[i + 1:i + 2] if f.startswith("    fix:")])
    raise AssertionError(f"no {name!r} line in:\n{report}")


@pytest.fixture
def root(tmp_path) -> Path:
    return make_project(tmp_path / "p", "params_flow.py")


@pytest.fixture
def bare_python(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    return tmp_path / "venv" / "bin" / "python"


def _site(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def test_a_set_up_project_is_all_ticks_and_exits_0(root):
    init_project(root, ["claude", "codex"], python=sys.executable)
    done = subprocess.run([sys.executable, "-m", "flowmcp", "doctor", "--root", str(root), "--python", sys.executable],
                          capture_output=True, text=True, timeout=120)
    report = done.stdout
    assert done.returncode == 0, report + done.stderr
    names = ["interpreter", "metaflow", "user", "datastore", "metadata", "warm workers", "spin folder",
             "client .mcp.json", "client .codex/config.toml"]
    for name in names + (["browser"] if _has_browser() else []):
        assert line(report, name).startswith("✓"), report
    assert "given with --python" in line(report, "interpreter")
    assert "from metaflow 2.19" in line(report, "metaflow") and "extensions: none" in line(report, "metaflow")
    assert f"local at {root}/.metaflow" in line(report, "datastore")
    from flowmcp.app.doctor import spares_detail
    from flowmcp.bridge.project.worker import spare

    assert spares_detail({"copy_ahead": spare.can_copy_ahead()}) in line(report, "warm workers")
    assert report.rstrip().endswith("Everything flowmcp needs works.")


def _has_browser() -> bool:
    from flowmcp.app import browser

    try:
        return bool(browser.find_browser())
    except browser.BrowserMissing:
        return False


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_the_doctor_tool_answers_the_same_checks(root, era):
    async with Client(build_server(App.create(root, sys.executable)), mode=era) as c:
        text, report, is_error = await call(c, "doctor")
    assert not is_error and report["ok"] is True, text
    names = [check["name"] for check in report["checks"]]
    assert names[:6] == ["interpreter", "metaflow", "user", "datastore", "metadata", "warm workers"], names
    assert report["checks"][-1] == {"name": "clients", "status": "warn", "text": "no client config in this project "
                                    "starts flowmcp", "fix": f"`flowmcp init --root {root}` registers it with Claude "
                                    "Code, Cursor, VS Code and Codex"}
    assert "! clients: no client config" in text


def test_options_that_name_nothing_fail(root):
    code, report = doctor(root, "/no/such/python")
    assert code == 1 and "✗ options: --python /no/such/python: no such interpreter" in report, report
    code, report = doctor(root / "missing")
    assert code == 1 and "is not a directory" in line(report, "options"), report


def test_an_interpreter_without_metaflow_fails_with_the_install_command(root, bare_python):
    code, report = doctor(root, str(bare_python))
    assert code == 1, report
    assert line(report, "metaflow").startswith(f"✗ metaflow: {bare_python} has no Metaflow"), report
    assert f"{bare_python} -m pip install 'metaflow>=" in line(report, "metaflow"), report
    assert line(report, "warm workers").startswith("! warm workers: off: the project's interpreter has no working"), \
        report


def test_an_unsupported_metaflow_fails_with_the_range(root, bare_python):
    (_site(bare_python) / "metaflow").mkdir()
    (_site(bare_python) / "metaflow" / "__init__.py").write_text('__version__ = "2.18.5"\n')
    code, report = doctor(root, str(bare_python))
    assert code == 1 and line(report, "metaflow").startswith("✗ metaflow: 2.18.5 from no installed distribution"), \
        report
    assert "pip install 'metaflow>=2.19" in line(report, "metaflow"), report
    assert "user:" not in report and "datastore:" not in report, report  # not read through a Metaflow it cannot use


def test_two_distributions_of_the_metaflow_package_are_a_warning(root, tmp_path):
    venv = tmp_path / "two"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "metaflow").is_dir())
    (_site(venv / "bin" / "python") / "this.pth").write_text(here + "\n")  # this venv's Metaflow, and more
    # A second installed distribution that claims the `metaflow` package, as ob-metaflow installed
    # over metaflow does (its files overwrite the other's).
    dist = _site(venv / "bin" / "python") / "ob_metaflow-2.19.39.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ob-metaflow\nVersion: 2.19.39.1\n")
    (dist / "top_level.txt").write_text("metaflow\n")
    (dist / "RECORD").write_text("metaflow/__init__.py,,\n")
    code, report = doctor(root, str(venv / "bin" / "python"))
    assert code == 0, report
    assert line(report, "metaflow").startswith("! metaflow: 2.19"), report
    assert "ob-metaflow 2.19.39.1" in report and "metaflow 2.19" in report, report
    assert "uninstall all but one" in line(report, "metaflow"), report


def test_a_profile_that_does_not_exist_fails_with_its_file(root, monkeypatch, tmp_path):
    monkeypatch.setenv("METAFLOW_HOME", str(tmp_path / "mfhome"))
    monkeypatch.setenv("METAFLOW_PROFILE", "staging")
    code, report = doctor(root, sys.executable)
    assert code == 1, report
    assert "✗ metaflow: `import metaflow` fails: MetaflowException: Unable to locate METAFLOW_PROFILE 'staging'" in \
        report, report
    assert f"create {tmp_path}/mfhome/config_staging.json" in line(report, "metaflow"), report
    assert "configure aws --profile staging" in line(report, "metaflow"), report


def test_a_profile_is_named_with_its_file(root, monkeypatch, tmp_path):
    (tmp_path / "mfhome").mkdir()
    (tmp_path / "mfhome" / "config_dev.json").write_text('{"METAFLOW_DEFAULT_DATASTORE": "local"}')
    monkeypatch.setenv("METAFLOW_HOME", str(tmp_path / "mfhome"))
    monkeypatch.setenv("METAFLOW_PROFILE", "dev")
    code, report = doctor(root, sys.executable)
    assert code == 0 and f"from profile 'dev' ({tmp_path}/mfhome/config_dev.json)" in line(report, "datastore"), \
        report


def test_a_user_metaflow_refuses_fails(root, monkeypatch):
    for name in ("USERNAME", "SUDO_USER", "LOGNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USER", "root")
    monkeypatch.setenv("METAFLOW_USER", "root")
    code, report = doctor(root, sys.executable)
    assert code == 1 and line(report, "user").startswith("✗ user: Metaflow finds no user name"), report
    assert "set USER (or METAFLOW_USER)" in line(report, "user")


def test_no_user_name_is_flowmcps_stand_in_and_a_warning(root, monkeypatch):
    for name in ("USER", "USERNAME", "SUDO_USER", "LOGNAME", "METAFLOW_USER"):
        monkeypatch.delenv(name, raising=False)
    code, report = doctor(root, sys.executable)
    assert code == 0 and line(report, "user").startswith("! user: 'flowmcp', flowmcp's stand-in"), report


def test_a_local_datastore_that_cannot_be_written_fails(root, monkeypatch, tmp_path):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(tmp_path / "afile" / "mf"))
    code, report = doctor(root, sys.executable)
    assert code == 1, report
    assert line(report, "datastore").startswith(f"✗ datastore: local at {tmp_path}/afile/mf/.metaflow"), report
    assert f"{tmp_path}/afile is a file, not a folder" in report


def test_an_s3_datastore_is_tried(root, s3_endpoint):
    code, report = doctor(root, sys.executable)
    assert code == 0 and line(report, "datastore").startswith("✓ datastore: s3 at s3://flowmcp-test/metaflow"), \
        report
    assert "answered in" in line(report, "datastore")


def test_an_s3_datastore_that_does_not_answer_fails(root, monkeypatch):
    closed = free_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                       "METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://gone/metaflow",
                       "METAFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{closed}"}.items():
        monkeypatch.setenv(key, value)
    code, report = doctor(root, sys.executable)
    assert code == 1, report
    assert line(report, "datastore").startswith("✗ datastore: s3 at s3://gone/metaflow"), report
    assert "Could not connect" in line(report, "datastore") and "METAFLOW_DEFAULT_DATASTORE=local" in report


def test_a_datastore_flowmcp_cannot_try_is_a_warning(root, monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", "container/metaflow")
    code, report = doctor(root, sys.executable)
    assert code == 0 and line(report, "datastore").startswith("! datastore: azure at container/metaflow"), report
    assert "not tried: flowmcp does not try azure datastores yet" in report


SERVICE_PASSWORD = "pw-Hq83-secret"


class _Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        basic = "Basic " + base64.b64encode(f"flow:{SERVICE_PASSWORD}".encode()).decode()
        ok = self.path == "/api/ping" and (self.headers.get("x-api-key") == "secret"
                                           or self.headers.get("authorization") == basic)
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(b"pong" if ok else b"no")

    def log_message(self, *args):
        pass


def test_a_metadata_service_is_pinged_with_its_headers(root, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api"
        monkeypatch.setenv("METAFLOW_DEFAULT_METADATA", "service")
        monkeypatch.setenv("METAFLOW_SERVICE_URL", url)
        monkeypatch.setenv("METAFLOW_SERVICE_AUTH_KEY", "secret")
        code, report = doctor(root, sys.executable)
        assert code == 0 and line(report, "metadata").startswith(f"✓ metadata: service at {url}"), report
        monkeypatch.setenv("METAFLOW_SERVICE_AUTH_KEY", "wrong")
        code, report = doctor(root, sys.executable)
        assert code == 1 and "HTTP Error 403" in line(report, "metadata"), report
    finally:
        server.shutdown()


def test_a_metadata_service_url_is_shown_without_its_password(root, monkeypatch):
    """The URL's user and password reach the service (as basic auth), never the report."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("METAFLOW_DEFAULT_METADATA", "service")
        monkeypatch.setenv("METAFLOW_SERVICE_URL", f"http://flow:{SERVICE_PASSWORD}@127.0.0.1:{port}/api")
        code, report = doctor(root, sys.executable)
        shown = f"✓ metadata: service at http://flow:[redacted password]@127.0.0.1:{port}/api"
        assert code == 0 and line(report, "metadata").startswith(shown), report
        out = io.StringIO()
        run_doctor(str(root), sys.executable, keep_spins=50, warm=True, as_json=True, out=out)

        async def tool():
            async with Client(build_server(App.create(root))) as c:
                return await call(c, "doctor")

        text, data, _ = anyio.run(tool)
        for said in (report, out.getvalue(), text, json.dumps(data)):
            assert SERVICE_PASSWORD not in said and "[redacted password]@127.0.0.1" in said, said
    finally:
        server.shutdown()


def test_a_metadata_service_that_does_not_answer_fails(root, monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_METADATA", "service")
    monkeypatch.setenv("METAFLOW_SERVICE_URL", f"http://127.0.0.1:{free_port()}/api")
    code, report = doctor(root, sys.executable)
    assert code == 1 and "Connection refused" in line(report, "metadata"), report
    assert "METAFLOW_DEFAULT_METADATA=local" in line(report, "metadata")


def test_the_warm_line_says_what_spares_do_here(root, monkeypatch):
    monkeypatch.setenv("FLOWMCP_SPARES", "0")
    code, report = doctor(root, sys.executable)
    assert code == 0 and "spares off (FLOWMCP_SPARES=0): every job pays its fork" in line(report, "warm workers")
    # A kernel older than 5.14 (RHEL 8's 4.18) forks spares but cannot copy their pages ahead:
    from flowmcp.app.doctor import spares_detail

    assert "cannot copy their pages ahead" in spares_detail({"spares": True, "copy_ahead": False})


def test_warm_workers_off_are_a_warning_with_the_reason(root, monkeypatch):
    code, report = doctor(root, sys.executable, warm=False)
    assert code == 0 and line(report, "warm workers") == (
        "! warm workers: off: warm workers are off (--no-warm); every spin starts a new interpreter (slower, same "
        "answers)\n    fix: start flowmcp without --no-warm"), report
    monkeypatch.setenv("FLOWMCP_HIDE_METAFLOW", "metaflow.runtime:SpinRuntime")
    code, report = doctor(root, sys.executable)
    assert code == 0, report
    assert line(report, "metaflow internals").startswith(
        "! metaflow internals: this Metaflow lacks what flowmcp uses: warm needs metaflow.runtime.SpinRuntime"), report
    assert line(report, "warm workers").startswith("! warm workers: off:") and "SpinRuntime" in report, report


def test_no_browser_is_a_warning_with_how_to_install_one(root, monkeypatch, tmp_path):
    from flowmcp.app import browser

    monkeypatch.setattr(browser, "MAC_APPS", ())
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # the venv: python, flowmcp, no chromium
    monkeypatch.delenv("FLOWMCP_BROWSER", raising=False)
    code, report = doctor(root, sys.executable)
    assert code == 0 and line(report, "browser").startswith("! browser: view_card cannot render cards: no Chromium"), \
        report
    assert "everything else works without one" in line(report, "browser")


def test_an_interpreter_that_does_not_run_fails(root, tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries: libpython3.11.so' >&2\nexit 127\n")
    broken.chmod(0o755)
    code, report = doctor(root, str(broken))
    assert code == 1 and line(report, "interpreter").startswith(f"✗ interpreter: {broken} did not answer"), report
    assert "libpython3.11.so" in report and "--python" in line(report, "interpreter"), report


def test_an_old_python_fails(root):
    old = Path("/root/.pyenv/versions/3.8.18/bin/python")
    if not old.exists():
        pytest.skip("no Python 3.8 on this machine")
    code, report = doctor(root, str(old))
    assert code == 1 and line(report, "interpreter").startswith("✗ interpreter"), report


def test_demo_runs_the_doctor_first_when_something_is_missing(tmp_path, bare_python):
    done = subprocess.run([sys.executable, "-m", "flowmcp", "demo", "--dir", str(tmp_path / "demo"), "--python",
                           str(bare_python)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ metaflow:" in done.stdout and "has no Metaflow" in done.stdout, done.stdout
    assert "Record a first run" not in done.stdout  # the walk never started
