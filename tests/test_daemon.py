"""The project server that `flowmcp call` reuses: one per root and options, started by the first
call, shared by concurrent callers, safe from other users, replaced when dead, gone when unused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowmcp.daemon.identity import Options, Paths, read_info, server_id
from flowmcp.state.config import DEFAULT_KEEP_SPINS, find_interpreter

from .conftest import make_project
from .support import alive, reachable_by_others
from .test_daemon_trust import AS_ROOT, NOBODY, Planted, planting_ground

FLOWMCP = [sys.executable, "-m", "flowmcp"]

ENV_FLOW = '''\
import os

from metaflow import FlowSpec, step


class GreetingFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = os.environ.get("GREETING", "none")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GreetingFlow()
'''


def flowmcp(project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run([*FLOWMCP, *args, "--root", str(project)], capture_output=True, text=True,
                          timeout=timeout, env=_env(env), cwd=project)


def start_call(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([*FLOWMCP, *args, "--root", str(project)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(env), cwd=project)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "FLOWMCP_DAEMON_IDLE_S": "120"}  # a server a failed test leaves goes soon
    env.pop("FLOWMCP_NO_DAEMON", None)
    return {**env, **(extra or {})}


def servers(project: Path) -> dict[str, dict]:
    """The root's running servers, by id, as their records say."""
    folder = Paths.of(project, "")
    return {server: read_info(Paths.of(project, server)) for server in folder.servers()}


def only_server(project: Path) -> dict:
    [info] = servers(project).values()
    return info


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:g} s for {what}")


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py", "sleepy_flow.py")
    (root / "greeting_flow.py").write_text(ENV_FLOW)
    yield root
    flowmcp(root, "daemon", "stop")


def spin(project: Path, step: str = "start", flow: str = "params_flow.py", *options: str, env=None):
    return flowmcp(project, "call", "spin", "--args", json.dumps({"flow": flow, "step": step}), *options, env=env)


def test_calls_share_one_server_and_answer_as_in_process_calls(project):
    first = flowmcp(project, "call", "run", "--args", '{"flow": "params_flow.py"}')
    assert first.returncode == 0 and first.stderr == "", first.stderr
    server = only_server(project)
    assert alive(server["pid"])
    spun = spin(project, "square")
    assert spun.returncode == 0 and spun.stderr == "" and "(warm worker)" in spun.stdout, spun.stdout + spun.stderr
    assert only_server(project)["pid"] == server["pid"]

    run = json.loads(flowmcp(project, "call", "list_runs", "--json", "--args", '{"flow": "params_flow.py"}')
                     .stdout)["runs"][0]["pathspec"]
    same = [  # (arguments, exit status): each through the server and in-process
        (["call", "inspect_artifact", "--args", json.dumps({"pathspec": f"{run}/join", "name": "total"})], 0),
        (["call", "inspect_artifact", "--json", "--args", json.dumps({"pathspec": f"{run}/join", "name": "totl"})], 1),
        (["call", "spin", "--args", '{"flow": "params_flow.py"}'], 2),
        (["call", "spinn", "--args", '{"flow": "params_flow.py"}'], 2),
        (["call", "spin", "--args", '{"flow": "params_flow.py", "step": "start", "stepp": 1}'], 2),
    ]
    for arguments, status in same:
        served, alone = flowmcp(project, *arguments), flowmcp(project, *arguments, "--no-daemon")
        assert (served.returncode, served.stdout, served.stderr) == (alone.returncode, alone.stdout, alone.stderr)
        assert served.returncode == status, served.stdout + served.stderr

    status = flowmcp(project, "daemon", "status")
    assert status.returncode == 0 and f"pid {server['pid']}" in status.stdout, status.stdout
    assert "(serves calls from this shell)" in status.stdout and "8 calls" in status.stdout, status.stdout
    stopped = flowmcp(project, "daemon", "stop")
    assert stopped.stdout.startswith("stopped 1 project server"), stopped.stdout
    wait_for(lambda: not alive(server["pid"]), 10, "the server to stop")
    assert not servers(project) and not Path(server["socket"]).exists()
    status = flowmcp(project, "daemon", "status")
    assert status.returncode == 1 and status.stdout.startswith("no project server is running"), status.stdout


def _started_run(project: Path, known: set[str]) -> str:
    """The pathspec of a SleepyFlow run started after `known`, once its start step sleeps."""
    def started():
        runs = project / ".metaflow" / "SleepyFlow"
        new = [p.name for p in runs.glob("[0-9]*") if p.name not in known and (p / "start").is_dir()]
        return new[0] if new else None

    run = wait_for(started, 60, "the run to start")
    time.sleep(1)  # into the step's sleep
    return f"SleepyFlow/{run}"


def test_concurrent_callers_are_served_and_a_caller_that_leaves_takes_only_its_work(project):
    assert flowmcp(project, "call", "run", "--args", '{"flow": "params_flow.py"}').returncode == 0
    runs: list[str] = []
    interrupted = start_call(project, "call", "run", "--args", '{"flow": "sleepy_flow.py"}')
    runs.append(_started_run(project, set()))
    killed = start_call(project, "call", "run", "--args", '{"flow": "sleepy_flow.py"}')
    runs.append(_started_run(project, {runs[0].split("/")[1]}))

    # While both runs sleep, a third caller is served.
    spun = spin(project, "square")
    assert spun.returncode == 0 and "succeeded" in spun.stdout, spun.stdout + spun.stderr

    interrupted.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = interrupted.communicate(timeout=30)
    assert interrupted.returncode == 130 and "cancelled" in err and out == "", (out, err)
    killed.kill()
    killed.communicate(timeout=30)

    for pathspec in runs:  # each caller's run was stopped; the server says so
        def cancelled(pathspec=pathspec):
            answer = flowmcp(project, "call", "run_status", "--json", "--args", json.dumps({"pathspec": pathspec}))
            return json.loads(answer.stdout)["status"] == "cancelled"

        wait_for(cancelled, 30, f"{pathspec} to be cancelled")
    assert spin(project, "join").returncode == 0  # and the server goes on serving
    assert len(servers(project)) == 1


def test_a_dead_server_or_a_stale_socket_is_replaced_by_the_next_call(project):
    assert spin(project, flow="greeting_flow.py").returncode == 1  # no run yet: an answer all the same
    first = only_server(project)
    os.kill(first["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(first["pid"]), 10, "the server to die")
    assert Path(first["socket"]).exists()  # SIGKILL leaves its socket behind: stale

    started = time.monotonic()
    answer = flowmcp(project, "call", "run", "--args", '{"flow": "greeting_flow.py"}')
    assert answer.returncode == 0, answer.stdout + answer.stderr
    second = only_server(project)
    assert second["pid"] != first["pid"] and alive(second["pid"])
    assert time.monotonic() - started < 60

    # A record naming a live process that is not a project server (a recycled pid): left alone.
    os.kill(second["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(second["pid"]), 10, "the server to die")
    paths = Paths.of(project, next(iter(servers(project))))
    paths.info.write_text(json.dumps({**second, "pid": os.getpid()}))
    answer = spin(project, flow="greeting_flow.py")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert only_server(project)["pid"] not in (os.getpid(), second["pid"])


@pytest.fixture
def ground(monkeypatch):
    with planting_ground(monkeypatch) as folder_and_planted:
        yield folder_and_planted


@pytest.mark.skipif(os.name != "posix" or os.getuid() != 0, reason="needs root to act as another user")
def test_only_the_owner_can_connect(project, ground):
    env = {"TMPDIR": str(ground[0] / "tmp")}  # opened below: never the machine's own flowmcp-<uid> folder
    assert spin(project, flow="greeting_flow.py", env=env).returncode == 1
    info = only_server(project)
    sock = Path(info["socket"])
    assert oct(sock.stat().st_mode & 0o777) == "0o600" and oct(sock.parent.stat().st_mode & 0o777) == "0o700"
    reachable_by_others(sock.parent.parent)  # the socket's own folder is what keeps others out

    def as_nobody() -> str:
        """Connect as uid 65534 in a child; what happened."""
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(10)
                    s.connect(str(sock))  # the server refuses another user at once, before any hello
                    said = s.recv(4096).decode()
            except OSError as ex:
                said = type(ex).__name__
            os.write(write, said.encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read) as f:
            return f.read()

    assert as_nobody() == "PermissionError"
    # With the file modes opened up, the server itself still refuses another user.
    sock.parent.chmod(0o755)
    sock.chmod(0o777)
    assert "serves its owner only" in as_nobody()
    sock.parent.chmod(0o700)  # as the server made them: calls (and the fixture's stop) trust them again
    sock.chmod(0o600)
    assert spin(project, flow="greeting_flow.py", env=env).returncode == 1


def test_a_call_refuses_a_server_planted_where_it_looks_and_sends_it_nothing(project, ground):
    """Another user made the socket's folder first and listens there (or, without root to act as
    one, the folder is open to everyone): the call prints why and what to do, and nothing else."""
    folder, planted = ground  # and $TMPDIR of the test's own: a root as deep as xdist's has its socket there
    python, _why = find_interpreter(project.resolve(), None)
    options = Options(str(project.resolve()), os.path.abspath(python), DEFAULT_KEEP_SPINS, True)
    env = {**_env(None), "GITHUB_TOKEN": "ghp_" + "q9" * 18, "TMPDIR": str(folder / "tmp")}
    paths = Paths.of(project.resolve(), server_id(options, env))
    if AS_ROOT:
        project.chmod(0o777)  # a shared root
        reachable_by_others(project)
    else:
        paths.socket.parent.mkdir(parents=True, mode=0o777)
        paths.socket.parent.chmod(0o777)
    planted.append(Planted(paths.socket, NOBODY if AS_ROOT else os.getuid()))
    answer = flowmcp(project, "call", "spin", "--args", '{"flow": "greeting_flow.py", "step": "start"}', env=env)
    assert planted[0].received() == b""
    assert answer.returncode == 1 and answer.stdout == "", answer.stdout
    assert answer.stderr.startswith("flowmcp call spin: refused the project server's socket. "), answer.stderr
    why = f"belongs to uid {NOBODY}" if AS_ROOT else "has mode 0777"
    assert why in answer.stderr and "Nothing was sent to it" in answer.stderr and "--no-daemon" in answer.stderr
    shutil.rmtree(paths.socket.parent)  # for the fixture's stop


def test_a_folder_at_the_socket_path_is_named_and_calls_run_in_process(project):
    """No server can listen where a folder sits: the call says so at once, with the command that
    clears it, and answers in-process; nothing is started to die with a traceback."""
    assert flowmcp(project, "call", "list_runs").returncode == 0
    [(server_id, info)] = servers(project).items()
    socket_path = Path(info["socket"])
    assert flowmcp(project, "daemon", "stop").returncode == 0
    socket_path.mkdir(mode=0o600)  # passes the mode check a socket gets
    answer = flowmcp(project, "call", "list_runs")
    assert answer.returncode == 0 and "(ParamsFlow)" in answer.stdout, answer.stdout + answer.stderr
    assert answer.stderr == (f"flowmcp call: {socket_path} is a folder, not the project server's socket: no server "
                             f"can listen there. Remove it (`rm -r {socket_path}`) and call again; this call runs "
                             "in-process\n"), answer.stderr
    assert not servers(project)
    server = flowmcp(project, "daemon", "run", "--server", server_id)  # started by hand, it says why it leaves
    assert server.returncode == 1 and "Traceback" not in server.stderr, server.stderr
    assert f"{socket_path} is a folder" in server.stderr, server.stderr
    socket_path.rmdir()
    answer = flowmcp(project, "call", "list_runs")
    assert answer.returncode == 0 and answer.stderr == "" and servers(project), answer.stderr


def test_an_unused_server_stops_by_itself(project):
    assert spin(project, "start", "greeting_flow.py", "--idle-timeout", "1").returncode == 1
    info = only_server(project)
    wait_for(lambda: not alive(info["pid"]), 15, "the idle server to stop")
    assert not servers(project) and not Path(info["socket"]).exists()


def test_a_new_flowmcp_build_stops_the_old_server_and_the_next_call_starts_one(project, tmp_path):
    import flowmcp

    copy = tmp_path / "site" / "flowmcp"
    shutil.copytree(Path(flowmcp.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(copy.parent)}
    assert spin(project, flow="greeting_flow.py", env=env).returncode == 1
    old = only_server(project)
    assert old["build"].startswith(flowmcp.__version__ + "+")

    init = copy / "__init__.py"
    init.write_text(init.read_text().replace(f'"{flowmcp.__version__}"', '"9.9.9"'))
    wait_for(lambda: not alive(old["pid"]), 30, "the old build's server to stop")
    assert spin(project, flow="greeting_flow.py", env=env).returncode == 1
    new = only_server(project)
    assert new["build"].startswith("9.9.9+") and new["pid"] != old["pid"]


def test_other_options_get_their_own_server_and_each_call_its_callers_environment(project):
    assert flowmcp(project, "call", "run", "--args", '{"flow": "greeting_flow.py"}').returncode == 0
    answers = {value: spin(project, flow="greeting_flow.py", env={"GREETING": value}) for value in ("hi", "hey")}
    for value, answer in answers.items():  # one server, each call's own environment
        assert answer.returncode == 0 and "(warm worker)" in answer.stdout, answer.stdout
        assert f"greeting = str, {len(value)} chars: '{value}'" in answer.stdout, answer.stdout
    assert len(servers(project)) == 1

    cold = spin(project, "start", "greeting_flow.py", "--no-warm")
    assert cold.returncode == 0 and "(warm worker)" not in cold.stdout, cold.stdout
    configured = spin(project, flow="greeting_flow.py", env={"METAFLOW_DEBUG_SUBCOMMAND": "0"})
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert len(servers(project)) == 3  # --no-warm, and Metaflow's configuration, make other servers
    python, _why = find_interpreter(project.resolve(), None)
    options = Options(str(project.resolve()), os.path.abspath(python), DEFAULT_KEEP_SPINS, True)
    assert server_id(options, os.environ) in servers(project)  # this shell's calls: the first server


def test_files_of_servers_gone_a_day_ago_are_pruned_when_a_server_starts(tmp_path):
    from flowmcp.daemon.client import _prune_files_of_gone_servers

    paths = Paths.of(tmp_path, "current")
    paths.folder.mkdir(parents=True)
    for name in ("current.log", "current.lock", "live.json", "live.log", "gone.log", "gone.lock", "fresh.log"):
        (paths.folder / name).write_text("")
    day_ago = time.time() - 25 * 3600
    for name in ("current.log", "current.lock", "live.log", "gone.log", "gone.lock"):
        os.utime(paths.folder / name, (day_ago, day_ago))
    _prune_files_of_gone_servers(paths)
    assert sorted(p.name for p in paths.folder.iterdir()) == [
        "current.lock", "current.log", "fresh.log", "live.json", "live.log"]


def test_spin_step_can_go_through_the_project_server(project):
    from flowmcp.testing import spin_step

    assert flowmcp(project, "call", "run", "--args", '{"flow": "params_flow.py"}').returncode == 0
    server = only_server(project)
    result = spin_step(project / "params_flow.py", "score", root=project, daemon=True, artifacts={"total": 5})
    assert result["result"] == 10 and "(warm worker)" in result.text, result.text
    assert only_server(project)["pid"] == server["pid"]  # the server `flowmcp call` started


def test_the_environment_sends_spin_step_to_the_project_server_even_in_a_session(project, monkeypatch):
    """FLOWMCP_TESTING_DAEMON=1 chooses the project server for a whole test run: a conftest's
    `flowmcp_session` does not start a server of its own beside it."""
    from flowmcp.testing import SpinSession, spin_step

    assert flowmcp(project, "call", "run", "--args", '{"flow": "params_flow.py"}').returncode == 0
    server = only_server(project)
    monkeypatch.setenv("FLOWMCP_TESTING_DAEMON", "1")
    with SpinSession() as session:
        result = spin_step(project / "params_flow.py", "score", root=project, artifacts={"total": 4})
        assert session.apps == {}
    assert result["result"] == 8 and only_server(project)["pid"] == server["pid"]


def test_every_line_a_call_sends_gets_an_answer_as_over_stdio(project):
    """The project server reads a call's lines as the stdio server does: a line it cannot read and
    a request whose id the SDK would take for none each get their JSON-RPC error, and the next
    request is answered as before (the SDK alone gave neither an answer)."""
    from flowmcp.daemon.client import _hello

    assert flowmcp(project, "call", "list_runs").returncode == 0
    [server] = servers(project)
    connection = _hello(Paths.of(project, server), dict(os.environ))
    connection.sock.settimeout(20)  # no answer is a failure, not a hang
    try:
        lines = [
            ('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', None, -32600, "not an object"),
            ('{"jsonrpc":"2.0","id":1e400,"method":"ping"}', None, -32600, "not a number out of range"),
            ('{"jsonrpc":"2.0","id":"cut","method":', "cut", -32700, "EOF while parsing"),
            ('{"jsonrpc":"2.0","surprise":true}', None, -32600, "Invalid request"),
        ]
        for line, expected_id, code, words in lines:
            connection.sock.sendall(line.encode() + b"\n")
            answer = connection.receive()
            assert answer.get("id") == expected_id and answer["error"]["code"] == code, answer
            assert words in answer["error"]["message"], answer
        connection.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
        assert connection.receive() == {"jsonrpc": "2.0", "id": 5, "result": {}}
    finally:
        connection.close()
