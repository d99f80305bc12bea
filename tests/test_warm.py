"""The warm worker: spins fork from a process holding Metaflow and the flow's libraries, see every
edit, leave the same traces, and fall back to a new interpreter whenever the fork can't be trusted.

(The corpus test runs every broken and working case through both paths and compares the answers.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.bridge import early, warm
from flowmcp.bridge.imports import flow_imports
from flowmcp.bridge.project.worker import preload
from flowmcp.bridge.warm import decorator_reason, unavailable_reason
from flowmcp.server.build import build_server
from flowmcp.state.config import Config

from .conftest import call, make_project
from .support import RawSession, processes_under, write_env_flow

pytestmark = pytest.mark.anyio

HELPER_FLOW = '''
from metaflow import FlowSpec, step

import scaling


class HelperFlow(FlowSpec):
    @step
    def start(self):
        self.values = [1, 2, 3]
        self.next(self.scale)

    @step
    def scale(self):
        self.scaled = scaling.scale(self.values)
        print("scaled", self.scaled)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HelperFlow()
'''


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def helper_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write(root / "flow.py", HELPER_FLOW)
    write(root / "scaling.py", "def scale(values):\n    return [v * 2 for v in values]\n")
    return root


def worker_pids(app: App) -> list[int]:
    return [w.process.pid for w in app.bridge.warm.workers.values()]


# --------------------------------------------------------------------------- which modules


def test_flow_imports_follow_project_modules_but_never_list_them(tmp_path):
    write(tmp_path / "flow.py", """
        import json
        import numpy as np
        from metaflow import FlowSpec, step
        import helpers
        from pkg.sub import thing
        """)
    write(tmp_path / "helpers.py", "import pandas\nfrom collections import OrderedDict\n")
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "sub.py", "from .inner import x\nthing = 1\n")
    write(tmp_path / "pkg" / "inner.py", "import sklearn.linear_model\nx = 1\n")
    found = flow_imports(tmp_path / "flow.py", tmp_path)
    assert {"json", "numpy", "metaflow", "pandas", "collections", "collections.OrderedDict",
            "sklearn.linear_model"} <= found
    assert not {n for n in found if n.split(".")[0] in ("helpers", "pkg", "inner")}


def test_flow_imports_are_read_again_when_a_module_appears_or_changes(tmp_path):
    write(tmp_path / "flow.py", "import helpers\nimport metaflow\n")
    assert flow_imports(tmp_path / "flow.py", tmp_path) == {"helpers", "metaflow"}  # an installed one, so far
    write(tmp_path / "helpers.py", "import decimal\n")  # now the project's own: it shadows the other
    assert flow_imports(tmp_path / "flow.py", tmp_path) == {"decimal", "metaflow"}
    write(tmp_path / "helpers.py", "import fractions\n")
    os.utime(tmp_path / "helpers.py", ns=(1, 1))  # an edit that kept the size: told by the time
    assert flow_imports(tmp_path / "flow.py", tmp_path) == {"fractions", "metaflow"}
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg" / "__init__.py", "import statistics\n")
    write(tmp_path / "helpers.py", "import pkg\n")
    assert flow_imports(tmp_path / "flow.py", tmp_path) == {"statistics", "metaflow"}


def test_flow_imports_include_step_bodies_and_skip_type_checking_blocks(tmp_path):
    write(tmp_path / "flow.py", """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import polars
        else:
            import csv
        def step_body():
            from sklearn.ensemble import RandomForestClassifier
        """)
    found = flow_imports(tmp_path / "flow.py", tmp_path)
    assert "polars" not in found
    assert {"csv", "sklearn.ensemble", "sklearn.ensemble.RandomForestClassifier"} <= found


def test_flow_imports_of_an_unreadable_flow_are_empty(tmp_path):
    write(tmp_path / "flow.py", "def broken(:\n")
    assert flow_imports(tmp_path / "flow.py", tmp_path) == frozenset()


def test_a_file_in_the_flow_folder_shadowing_a_loaded_module_is_found(tmp_path):
    write(tmp_path / "json.py", "")  # `python flow.py` would import this, not the standard library's
    write(tmp_path / "scaling.py", "")
    (tmp_path / "collections").mkdir()
    write(tmp_path / "collections" / "__init__.py", "")
    (tmp_path / "logging").mkdir()  # no __init__.py: a namespace folder never shadows a module
    write(tmp_path / "os.py", "")  # loaded at interpreter start-up, before the flow's folder counts
    assert preload.shadowed_modules(str(tmp_path), frozenset({"os", "sys"})) == {"json", "collections"}


def test_installed_libraries_are_told_from_project_modules(tmp_path):
    dirs = preload.library_dirs()
    assert preload.installed_origin("json", dirs) is None
    assert preload.installed_origin("anyio", dirs) is None  # site-packages
    assert preload.installed_origin("sys", dirs) is None  # built in
    assert preload.installed_origin("surely_not_installed_xyz", dirs) == "not installed"
    assert preload.installed_origin("tests", dirs).startswith("not an installed library")


def test_warm_workers_need_fork_on_linux_and_can_be_turned_off(tmp_path, monkeypatch):
    assert unavailable_reason(Config.create(tmp_path)) is None
    assert unavailable_reason(Config.create(tmp_path, warm=False)) == "warm workers are off (--no-warm)"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert unavailable_reason(Config.create(tmp_path)) == "warm workers need fork on Linux; this is darwin"


def test_conda_and_pypi_steps_need_their_own_interpreter():
    assert decorator_reason(["catch", "conda"]) == "@conda steps run in their own environment"
    assert decorator_reason(["pypi_base"]) == "@pypi_base steps run in their own environment"
    assert decorator_reason(["retry", "card"]) is None


# --------------------------------------------------------------------------- the warm path


async def test_warm_spin_sees_every_edit_to_the_flow_and_its_helper_module(tmp_path):
    root = helper_project(tmp_path / "p")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="flow.py", step="scale")
        assert not is_error, text
        assert data["warm"] and "(warm worker)" in text
        assert [a["name"] for a in data["artifacts"]] == ["scaled"] and "[2, 4, 6]" in data["stdout_tail"]
        pids = worker_pids(app)

        write(root / "scaling.py", "def scale(values):\n    return [v * 10 for v in values]\n")
        text, data, _ = await call(c, "spin", flow="flow.py", step="scale")
        assert "[10, 20, 30]" in data["stdout_tail"], text

        source = (root / "flow.py").read_text()
        (root / "flow.py").write_text(source.replace('print("scaled", self.scaled)', 'print("edited", self.scaled)'))
        text, data, _ = await call(c, "spin", flow="flow.py", step="scale")
        assert "edited [10, 20, 30]" in data["stdout_tail"], text
        assert data["warm"] and worker_pids(app) == pids  # same worker throughout: same imports


def spin_files(root: Path, pathspec: str) -> set[str]:
    """The files a spin left in the spin datastore, timestamps in their names taken out."""
    flow, run_id = pathspec.split("/")[:2]
    folder = root / ".metaflow_spin" / flow / run_id
    return {re.sub(r"\d{10,}", "<time>", str(p.relative_to(folder))) for p in folder.rglob("*") if p.is_file()}


async def test_warm_and_cold_spins_leave_the_same_files_and_metaflow_reads_both(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root))) as c, Client(build_server(App.create(root, warm=False))) as cold:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        _, warm_spin, _ = await call(c, "spin", flow="params_flow.py", step="score", persist=True)
        _, cold_spin, _ = await call(cold, "spin", flow="params_flow.py", step="score", persist=True)
    assert warm_spin["warm"] and not cold_spin["warm"]
    assert spin_files(root, warm_spin["pathspec"]) == spin_files(root, cold_spin["pathspec"])
    # Metaflow's own reader, in a fresh interpreter: artifacts and logs of both spins.
    script = textwrap.dedent(f"""
        from metaflow import inspect_spin, namespace
        namespace(None)
        inspect_spin({str(root)!r})
        from metaflow import Task
        for pathspec in {[warm_spin["pathspec"], cold_spin["pathspec"]]!r}:
            task = Task(pathspec, _namespace_check=False)
            print(task["result"].data, task.stdout.strip().splitlines()[-1])
        """)
    reader = await anyio.run_process([sys.executable, "-c", script], cwd=root, check=True)
    out = reader.stdout.decode()
    assert out.splitlines() == ["0.2 result is 0.2", "0.2 result is 0.2"], out


async def test_a_warm_spins_step_process_takes_its_runtimes_git_facts(tmp_path, monkeypatch):
    """Metaflow records the flow's git repository (branch, commit, uncommitted changes) with each
    task, asking `git` five times in every process. A warm spin's step process takes what its
    runtime found a moment before: git runs in one process per spin, and the recorded facts are
    the plain path's."""
    real_git = shutil.which("git")
    if real_git is None:
        pytest.skip("git is not installed")
    root = make_project(tmp_path / "p", "params_flow.py")
    for args in (["init", "-q", "-b", "trunk"], ["add", "params_flow.py"],
                 ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "flow"]):
        await anyio.run_process(["git", *args], cwd=root, check=True)
    log = tmp_path / "git-calls"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$PPID $*" >> {log}\nexec {real_git} "$@"\n')  # the caller, the call
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    with (root / "params_flow.py").open("a") as f:
        f.write("# an uncommitted change\n")
    async with Client(build_server(App.create(root))) as c, Client(build_server(App.create(root, warm=False))) as cold:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        await call(cold, "spin", flow="params_flow.py", step="score")  # the cold side has described the flow too
        log.write_text("")
        _, warm_spin, _ = await call(c, "spin", flow="params_flow.py", step="score", persist=True)
        warm_callers = {line.split()[0] for line in log.read_text().splitlines()}
        log.write_text("")
        _, cold_spin, _ = await call(cold, "spin", flow="params_flow.py", step="score", persist=True)
        cold_callers = {line.split()[0] for line in log.read_text().splitlines()}
    assert warm_spin["warm"] and not cold_spin["warm"]
    assert len(warm_callers) == 1 and len(cold_callers) == 2  # the plain path: the runtime, the step
    script = textwrap.dedent(f"""
        import json
        from metaflow import Task, inspect_spin, namespace
        namespace(None)
        inspect_spin({str(root)!r})
        for pathspec in {[warm_spin["pathspec"], cold_spin["pathspec"]]!r}:
            print(json.dumps(json.loads(Task(pathspec, _namespace_check=False).metadata_dict["git-info"]),
                             sort_keys=True))
        """)
    reader = await anyio.run_process([sys.executable, "-c", script], cwd=root, check=True)
    warm_git, cold_git = reader.stdout.decode().splitlines()
    assert warm_git == cold_git and '"branch_name": "trunk"' in warm_git
    assert '"has_uncommitted_changes": true' in warm_git, warm_git


async def test_the_step_process_streams_behave_as_a_new_interpreters(tmp_path):
    root = helper_project(tmp_path / "p")
    async with Client(build_server(App.create(root))) as c, Client(build_server(App.create(root, warm=False))) as cold:
        assert not (await call(c, "run", flow="flow.py"))[2]
        source = (root / "flow.py").read_text()
        # stdout is strict UTF-8 (a lone surrogate fails the step); stderr backslash-escapes it.
        (root / "flow.py").write_text(source.replace('print("scaled", self.scaled)',
                                                     'print("\\udcff", file=sys.stderr)\n        print("\\udcff")')
                                      .replace("import scaling", "import sys\n\nimport scaling"))
        warm_text, warm_data, _ = await call(c, "spin", flow="flow.py", step="scale")
        _, cold_data, _ = await call(cold, "spin", flow="flow.py", step="scale")
    assert warm_data["warm"] and not cold_data["warm"]
    assert warm_data["failure"]["exception_type"] == cold_data["failure"]["exception_type"] == "UnicodeEncodeError"
    assert warm_data["failure"]["line"] == cold_data["failure"]["line"], warm_text


async def test_a_worker_that_cannot_start_leaves_the_spin_to_a_new_interpreter(tmp_path, monkeypatch):
    broken = write(tmp_path / "broken_worker.py", """
        import sys
        print("no worker today", file=sys.stderr)
        sys.exit(3)
        """)
    monkeypatch.setattr(early, "WORKER", broken)
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and not data["warm"], text
        assert "Not warm: warm worker unavailable: the worker did not start: no worker today." in text


async def test_warm_spin_still_validates_the_graph(tmp_path):
    root = helper_project(tmp_path / "p")
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="flow.py"))[2]
        source = (root / "flow.py").read_text()
        (root / "flow.py").write_text(source.replace("self.next(self.end)", "self.next(self.ending)", 1))
        text, _, is_error = await call(c, "spin", flow="flow.py", step="scale")
        assert is_error and "ending" in text, text


async def test_no_warm_spins_in_a_new_interpreter_and_says_so(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root, warm=False))) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error, text
        assert not data["warm"] and "(new interpreter)" in text
        assert "Not warm: warm workers are off (--no-warm)." in text


async def test_a_conda_step_takes_the_plain_path_and_the_answer_says_why(tmp_path):
    root = helper_project(tmp_path / "p")
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="flow.py"))[2]
        source = (root / "flow.py").read_text()
        source = source.replace("from metaflow import FlowSpec, step", "from metaflow import FlowSpec, conda, step")
        source = source.replace("    @step\n    def scale", "    @conda\n    @step\n    def scale")
        (root / "flow.py").write_text(source)
        text, data, _ = await call(c, "spin", flow="flow.py", step="scale")
        assert not data["warm"], text
        assert "Not warm: @conda steps run in their own environment." in text


async def test_spin_timeout_in_the_warm_path_stops_the_step_process(tmp_path):
    root = make_project(tmp_path / "p", "sleepy_flow.py")
    source = (root / "sleepy_flow.py").read_text()
    source = source.replace("time.sleep(120)", "time.sleep(120 if os.path.exists('SLEEP') else 0)")
    (root / "sleepy_flow.py").write_text(source.replace("import time", "import os\nimport time"))
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="sleepy_flow.py"))[2]
        (root / "SLEEP").touch()
        text, data, is_error = await call(c, "spin", flow="sleepy_flow.py", step="start", timeout_s=3)
        assert is_error and "Timeout" in text and data["warm"], text
    assert not processes_under(root)  # neither the step process nor the worker is left


async def test_a_killed_worker_is_replaced_and_the_answer_says_so(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        [pid] = worker_pids(app)
        os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(10):
            await app.bridge.warm.workers[next(iter(app.bridge.warm.workers))].process.wait()
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"], text
        assert "Warm worker restarted: the previous one was killed by signal 9." in text
        assert worker_pids(app) != [pid]


async def test_an_idle_worker_leaves_by_itself_and_the_next_spin_starts_another(tmp_path, monkeypatch):
    monkeypatch.setattr(early, "IDLE_S", 1.0)
    root = make_project(tmp_path / "p", "params_flow.py")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        [worker] = app.bridge.warm.workers.values()
        with anyio.fail_after(20):
            assert await worker.process.wait() == 0
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"] and "restarted" not in text, text
        assert worker_pids(app) != [worker.process.pid]


async def test_a_worker_dying_mid_spin_lets_the_spin_finish(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    source = (root / "params_flow.py").read_text()
    (root / "params_flow.py").write_text(source.replace("        self.result = self.total * 2",
                                                        "        import pathlib, time\n"
                                                        "        pathlib.Path('STEP_RUNNING').touch()\n"
                                                        "        time.sleep(2)\n"
                                                        "        self.result = self.total * 2"))
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        (root / "STEP_RUNNING").unlink()  # the run's own score step made it
        [pid] = worker_pids(app)
        async with anyio.create_task_group() as tg:
            answers = []

            async def spin():
                answers.append(await call(c, "spin", flow="params_flow.py", step="score"))

            tg.start_soon(spin)
            with anyio.fail_after(60):  # the step is running, in a fork of the worker: now kill the worker
                while not (root / "STEP_RUNNING").exists():  # noqa: ASYNC110 (a file another process writes)
                    await anyio.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        text, data, is_error = answers[0]
        assert not is_error and data["warm"], text
        assert "result = float" in text


async def test_a_new_import_gets_a_worker_of_its_own(tmp_path):
    root = helper_project(tmp_path / "p")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="flow.py"))[2]
        await call(c, "spin", flow="flow.py", step="scale")
        first = set(app.bridge.warm.workers)
        write(root / "scaling.py", "import fractions\n\ndef scale(values):\n    return [v * 3 for v in values]\n")
        text, data, _ = await call(c, "spin", flow="flow.py", step="scale")
        assert data["warm"] and "[3, 6, 9]" in data["stdout_tail"], text
        assert len(app.bridge.warm.workers) == 2
        [new_key] = set(app.bridge.warm.workers) - first
        assert "fractions" in new_key
    assert not app.bridge.warm.workers  # stopped with the server


async def test_at_most_three_workers_live_the_least_recently_used_goes(tmp_path):
    root = helper_project(tmp_path / "p")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="flow.py"))[2]
        first = set(app.bridge.warm.workers)
        for module in ("fractions", "decimal", "statistics"):  # three more import sets
            write(root / "scaling.py", f"import {module}\n\ndef scale(values):\n    return values\n")
            _, data, _ = await call(c, "spin", flow="flow.py", step="scale")
            assert data["warm"]
        assert len(app.bridge.warm.workers) == warm.MAX_WORKERS == 3
        assert not first & set(app.bridge.warm.workers)  # the flow's first import set was used longest ago


# --------------------------------------------------------------------------- fork safety, changes


@pytest.fixture
def user_site(tmp_path, monkeypatch) -> Path:
    """A user site-packages folder the project's interpreter imports from (an installed library)."""
    base = tmp_path / "userbase"
    site = base / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setenv("PYTHONUSERBASE", str(base))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return site


async def test_a_library_that_starts_a_thread_at_import_is_never_forked(tmp_path, user_site):
    write(user_site / "threadlib.py", """
        import threading, time
        threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="threadlib-poller").start()
        """)
    root = helper_project(tmp_path / "p")
    source = (root / "flow.py").read_text().replace("import scaling", "import scaling\nimport threadlib")
    count_threads = 'import threading\n        print("threads", threading.active_count())'
    (root / "flow.py").write_text(source.replace('print("scaled", self.scaled)', count_threads))
    app = App.create(root)
    async with Client(build_server(app)) as c:
        ran_text, ran_data, ran_error = await call(c, "run", flow="flow.py")
        assert not ran_error and ran_data["warm"], ran_text
        assert "threadlib" in app.bridge.warm.denied
        # The run's tasks were the first warm job to load it: that answer says so, once
        assert "not preloaded: threadlib (a library started thread(s) at import: threadlib-poller)" in ran_text
        text, data, is_error = await call(c, "spin", flow="flow.py", step="scale")
        assert not is_error and data["warm"], text
        assert "threads 2" in data["stdout_tail"]  # imported fresh in the step, as `python flow.py` would
        assert data["warm"] and "not preloaded" not in text  # said once, not in every answer


async def test_installing_a_package_restarts_the_worker(tmp_path, user_site):
    root = make_project(tmp_path / "p", "params_flow.py")
    app = App.create(root)
    async with Client(build_server(app)) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, _ = await call(c, "spin", flow="params_flow.py", step="score")
        assert data["warm"] and "restarted" not in text
        write(user_site / "newly_installed.py", "VALUE = 1\n")
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"], text
        assert f"Warm worker restarted: {user_site} changed" in text


async def test_a_new_metaflow_config_restarts_the_worker(tmp_path, monkeypatch):
    home = tmp_path / "mfhome"
    home.mkdir()
    monkeypatch.setenv("METAFLOW_HOME", str(home))  # Metaflow reads its config once, at import
    root = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="params_flow.py"))[2]
        text, data, _ = await call(c, "spin", flow="params_flow.py", step="score")
        assert data["warm"] and "restarted" not in text
        (home / "config.json").write_text("{}")
        text, data, is_error = await call(c, "spin", flow="params_flow.py", step="score")
        assert not is_error and data["warm"], text
        assert f"Warm worker restarted: {home / 'config.json'} changed" in text


async def test_a_job_gets_its_own_environment_unless_imports_read_it(tmp_path, monkeypatch):
    root = make_project(tmp_path / "p", "params_flow.py")
    write_env_flow(root, 'os.environ.get("APP_SETTING", "unset") + "/" + os.environ.get("METAFLOW_X_SETTING", "unset")')
    async with Client(build_server(App.create(root))) as c:
        assert not (await call(c, "run", flow="env_flow.py"))[2]
        monkeypatch.setenv("APP_SETTING", "a")  # the job's own: still warm, with its value
        text, data, _ = await call(c, "spin", flow="env_flow.py", step="start")
        assert data["warm"] and "'a/unset'" in text, text
        monkeypatch.setenv("METAFLOW_X_SETTING", "b")  # read by Metaflow at import: not the worker's imports
        text, data, _ = await call(c, "spin", flow="env_flow.py", step="start")
        assert not data["warm"] and "environment differs from the worker's (METAFLOW_X_SETTING)" in text, text
        assert "'a/b'" in text, text


def test_the_worker_leaves_when_the_server_is_killed(tmp_path):
    root = make_project(tmp_path / "p", "params_flow.py")
    flowmcp = str(Path(sys.executable).with_name("flowmcp"))
    session = RawSession([flowmcp, "--root", str(root)], cwd=root, env=dict(os.environ))
    try:
        session.initialize()
        result = session.tool("run", {"flow": "params_flow.py"})
        assert not result.get("isError"), result
        result = session.tool("spin", {"flow": "params_flow.py", "step": "score"})
        assert result["structuredContent"]["warm"], result
        assert any("worker.py" in line for line in processes_under(root)), processes_under(root)
        session.proc.kill()  # no shutdown: the worker must notice on its own
        deadline = time.monotonic() + 10
        while processes_under(root) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not processes_under(root)
    finally:
        session.close()


@pytest.mark.parametrize("ending", ["closed", "killed"])
def test_a_server_leaves_no_worker_folder_in_the_temporary_directory(tmp_path, ending):
    """The early worker's socket folder and the pool's are removed when the session ends, and by
    the last worker when the server was killed."""
    root = make_project(tmp_path / "p", "params_flow.py")
    temporary = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))  # short: socket paths hold 108 bytes
    session = RawSession([sys.executable, "-m", "flowmcp", "--root", str(root)], cwd=root,
                         env=dict(os.environ, TMPDIR=str(temporary)))
    try:
        session.initialize()
        assert not session.tool("run", {"flow": "params_flow.py"}).get("isError")
        assert session.tool("spin", {"flow": "params_flow.py", "step": "score"})["structuredContent"]["warm"]
        assert [p.name for p in temporary.iterdir() if p.name.startswith("flowmcp-")]
        if ending == "killed":
            session.proc.kill()
        session.close()
        deadline = time.monotonic() + 10
        while any(temporary.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not list(temporary.iterdir())
    finally:
        session.close()
        shutil.rmtree(temporary, ignore_errors=True)
