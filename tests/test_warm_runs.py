"""Runs with warm tasks (each task a fork of the warm worker) are indistinguishable, to
Metaflow's Client, from runs of the plain CLI: artifacts, attempts and their metadata, logs,
cards, tags; they can be resumed and spun from; a task that crashes its process fails alone,
with the same answer as on the plain path; and the paths that must stay plain say why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import FLOWS
from .corpus_cases import CORPUS

PARITY_FLOW = textwrap.dedent('''
    import sys

    from metaflow import FlowSpec, Parameter, card, current, retry, step
    from metaflow.cards import Markdown


    class ParityFlow(FlowSpec):
        scale = Parameter("scale", type=int, default=3)

        @step
        def start(self):
            print("loading", self.scale)
            print("a warning on stderr", file=sys.stderr)
            self.items = [1, 2, 3]
            self.label = "parity"
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.value = self.input * self.input * self.scale
            print("square", self.input, self.value)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.values = sorted(i.value for i in inputs)
            self.merge_artifacts(inputs, exclude=["value"])
            self.next(self.flaky)

        @retry(times=1, minutes_between_retries=0)
        @step
        def flaky(self):
            if current.retry_count == 0:
                raise RuntimeError("first attempt fails on purpose")
            self.total = sum(self.values)
            self.next(self.report)

        @card
        @step
        def report(self):
            current.card.append(Markdown("# total %d" % self.total))
            self.next(self.end)

        @step
        def end(self):
            print("done", self.total)


    if __name__ == "__main__":
        ParityFlow()
''')


def env() -> dict[str, str]:
    return dict(os.environ, USER="tester")


def cli_run(root: Path, flow: str = "flow.py", *args: str) -> None:
    subprocess.run([sys.executable, flow, "--quiet", "--no-pylint", "run", *args], cwd=root, env=env(),
                   check=True, capture_output=True)


def call(root: Path, warm: bool, *calls: tuple[str, dict]) -> list:
    async def go():
        async with Client(build_server(App.create(root, warm=warm))) as client:
            return [await client.call_tool(tool, arguments) for tool, arguments in calls]

    return anyio.run(go)


def client_view(root: Path, flow_name: str, run_id: str) -> dict:
    """What Metaflow's Client says of a run, with what differs between any two runs left out."""
    code = textwrap.dedent(f'''
        import json
        import os
        import re
        from metaflow import Run, namespace
        from metaflow.cards import get_cards
        from metaflow.plugins.cards.exception import CardNotPresentException


        def shown(artifact):
            """The value, for when the bytes differ (pickle shares equal strings it was given as one
            object: an interned string makes other bytes for the same value)."""
            try:
                value = artifact.data
                state = vars(value) if hasattr(value, "__dict__") and not isinstance(value, type) else value
                text = repr(state).replace(os.getcwd(), "<root>")  # each run has a folder of its own
                return re.sub("0x[0-9a-f]+", "0x", text)[:5000]
            except Exception as ex:
                return "<unreadable: %s>" % type(ex).__name__


        def cards(task):
            try:
                return [card.type for card in get_cards(task)]
            except CardNotPresentException:
                return []


        namespace(None)
        run = Run("{flow_name}/{run_id}")
        view = {{"successful": run.successful, "tags": sorted(run.user_tags), "steps": {{}}}}
        volatile = {{"attempt-done", "log_location_stdout", "log_location_stderr"}}
        for step in run:
            tasks = []
            for task in sorted(step, key=lambda t: t.index or 0):
                tasks.append({{
                    "ok": task.successful,
                    "artifacts": {{a.id: [a.sha, shown(a)] for a in task}},
                    # (a card's metadata is named by its random id)
                    "metadata": sorted(k for k in set(task.metadata_dict) - volatile
                                       if not re.fullmatch("[0-9a-f]{{32}}", k)),
                    "attempt_ok": task.metadata_dict.get("attempt_ok"),
                    "attempt": task.current_attempt,
                    "stdout": task.stdout,
                    "stderr": task.stderr,
                    "cards": cards(task),
                }})
            view["steps"][step.id] = tasks
        print(json.dumps(view))
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def assert_same(warm: dict, plain: dict) -> None:
    """Two runs' client views are equal; else name the first step, task and field that differ."""
    assert set(warm["steps"]) == set(plain["steps"])
    for step, tasks in plain["steps"].items():
        assert len(warm["steps"][step]) == len(tasks), step
        for index, (warm_task, plain_task) in enumerate(zip(warm["steps"][step], tasks)):
            for key, value in plain_task.items():
                if key == "artifacts":
                    assert set(warm_task[key]) == set(value), f"{step}[{index}] artifact names"
                    for name, (sha, shown) in value.items():
                        assert warm_task[key][name][0] == sha or warm_task[key][name][1] == shown, \
                            f"{step}[{index}].{name}: {warm_task[key][name][1][:300]} != {shown[:300]}"
                else:
                    assert warm_task[key] == value, f"{step}[{index}].{key}"


def latest_run_id(root: Path, flow_name: str) -> str:
    return (root / ".metaflow" / flow_name / "latest_run").read_text().strip()


def test_a_warm_run_is_the_same_to_metaflows_client_as_a_cli_run_and_resumes_and_spins(tmp_path):
    warm_root, cli_root = tmp_path / "warm", tmp_path / "cli"
    for root in (warm_root, cli_root):
        root.mkdir()
        (root / "flow.py").write_text(PARITY_FLOW)
    cli_run(cli_root, "flow.py", "--tag", "parity")
    (ran,) = call(warm_root, True, ("run", {"flow": "flow.py", "tags": ["parity"]}))
    answer = ran.structured_content
    assert answer["status"] == "succeeded" and answer["warm"] is True, ran.content[0].text
    assert "tasks forked from the warm worker" in ran.content[0].text
    run_id = answer["pathspec"].split("/")[1]
    warm_view = client_view(warm_root, "ParityFlow", run_id)
    cli_view = client_view(cli_root, "ParityFlow", latest_run_id(cli_root, "ParityFlow"))
    assert_same(warm_view, cli_view)
    assert warm_view["steps"]["flaky"][0]["attempt"] == 1  # the retry happened on both paths
    resumed, spun = call(warm_root, True, ("resume", {"flow": "flow.py", "step": "report", "run": run_id}),
                         ("spin", {"flow": "flow.py", "step": "report"}))
    assert not resumed.is_error and resumed.structured_content["warm"] is True, resumed.content[0].text
    assert not spun.is_error, spun.content[0].text


def flows_with_their_folders() -> list[tuple[str, Path, str]]:
    """(id, folder, flow file) for the bundled examples, the realistic flows and the corpus's
    working flows: each runs warm and on the plain path in the parity test below."""
    found = []
    examples = Path(__file__).parent.parent / "flowmcp" / "examples"
    for flow in sorted(examples.glob("*/flow.py")):
        found.append((f"example-{flow.parent.name}", flow.parent, flow.name))
    for flow in ("merge_flow.py", "inplace_flow.py", "config_json_flow.py", "inherited_flow.py", "catch_flow.py"):
        found.append((f"real-{flow}", FLOWS / "real", flow))
    for case in sorted(p for p in CORPUS.iterdir() if (p / "case.json").exists()):
        if case.name in PARITY_CORPUS:
            found.append((f"corpus-{case.name}", case, "flow.py"))
    return found


# Corpus flows whose working versions cover the shapes the others repeat: pandas, numpy,
# scikit-learn, foreach, joins, helper modules, @retry (the examples and the real flows above add
# parameters, configs, @catch, inheritance and in-place edits).
PARITY_CORPUS = {"sklearn_nan_fit", "df_groupby_missing_column", "join_merge_conflict", "helper_bug",
                 "foreach_split_fails", "retry_exhausted"}


@pytest.mark.parametrize("folder, flow", [pytest.param(folder, flow, id=name)
                                          for name, folder, flow in flows_with_their_folders()])
def test_warm_and_plain_runs_give_the_same_artifacts(tmp_path, folder, flow):
    roots = {}
    for path in ("warm", "plain"):
        roots[path] = tmp_path / path
        shutil.copytree(folder, roots[path], ignore=shutil.ignore_patterns("case.json", "expected.txt", "record.json",
                                                                            ".metaflow*", ".flowmcp"))
    views = {}
    for path, root in roots.items():
        (result,) = call(root, path == "warm", ("run", {"flow": flow}))
        answer = result.structured_content
        assert answer["status"] == "succeeded", result.content[0].text
        assert answer["warm"] is (path == "warm"), result.content[0].text
        flow_name, run_id = answer["pathspec"].split("/")
        view = client_view(root, flow_name, run_id)
        for tasks in view["steps"].values():
            for task in tasks:
                task.pop("stdout"), task.pop("stderr")  # may print times; the first test compares logs
        views[path] = view
    assert_same(views["warm"], views["plain"])


CRASH_FLOW = textwrap.dedent('''
    import os

    from metaflow import FlowSpec, step


    class CrashFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.input == 1:
                CRASH
            self.value = self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CrashFlow()
''')


@pytest.mark.parametrize("crash, expected", [
    ("os._exit(3)", "Exit: the step process exited with code 3"),
    ("os.kill(os.getpid(), 11)", "Killed: the step process was killed by SIGSEGV (11)"),
], ids=["os._exit", "segfault"])
def test_a_task_that_ends_its_process_fails_with_the_same_answer_warm_or_plain(tmp_path, crash, expected):
    answers = {}
    for path in ("warm", "plain"):
        root = tmp_path / path
        root.mkdir()
        (root / "flow.py").write_text(CRASH_FLOW.replace("CRASH", crash))
        (result,) = call(root, path == "warm", ("run", {"flow": "flow.py"}))
        answer = result.structured_content
        assert answer["status"] == "failed" and answer["warm"] is (path == "warm")
        answers[path] = answer["failure"]["summary"]
        work = next(s for s in answer["steps"] if s["step"] == "work")
        # That task failed; Metaflow stopped the splits still running, as it does on any path
        assert work["failed_tasks"] == 1, result.content[0].text
    assert answers["warm"] == answers["plain"]
    assert answers["warm"].splitlines()[0] == expected


def test_runs_that_must_start_new_interpreters_say_why(tmp_path):
    from flowmcp.app import FlowDescription
    from flowmcp.tools._runs import cold_reason

    desc = FlowDescription.__new__(FlowDescription)
    object.__setattr__(desc, "decorators", [])
    assert cold_reason(desc, {"with": ["kubernetes:cpu=4"]}) == (
        "with_=['kubernetes:cpu=4']: Metaflow hands the tasks to the compute layer")
    assert cold_reason(desc, {"environment": "conda"}).startswith("environment='conda'")


def test_a_task_metaflow_hands_to_a_compute_layer_is_never_forked(tmp_path):
    from flowmcp.bridge.project.worker.steps import StepLauncher

    launcher = StepLauncher.__new__(StepLauncher)
    import subprocess as real

    launcher._subprocess, launcher.flow_file = real, str(tmp_path / "flow.py")
    pipes = {"stdin": real.PIPE, "stdout": real.PIPE, "stderr": real.PIPE}
    local = [sys.executable, str(tmp_path / "flow.py"), "--quiet", "step", "train", "--run-id", "1"]
    remote = [sys.executable, str(tmp_path / "flow.py"), "--quiet", "kubernetes", "step", "train"]
    assert launcher._why_not(local, pipes) is None
    assert launcher._why_not(remote, pipes) == "the task runs through kubernetes"
    assert launcher._why_not(["/usr/bin/python3.9", *local[1:]], pipes).startswith("the step runs in another")


DEFERRED_PACKAGE = textwrap.dedent('''
    import io, sys, tarfile
    sys.path.insert(0, sys.argv[1])
    from _flowmcp_loader import package as load_flowmcp
    load_flowmcp()
    from _flowmcp.bridge import metaflow_compat as compat
    from metaflow import FlowSpec, step
    from metaflow.metaflow_environment import MetaflowEnvironment

    class TinyFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    def names(deferred):
        import metaflow.package as package
        if deferred:
            compat.defer_code_package()
        flow = TinyFlow(use_cli=False)
        built = package.MetaflowPackage(flow, MetaflowEnvironment(flow), lambda *a, **k: None)
        waiting = "_flowmcp_pending" in built.__dict__
        with tarfile.open(fileobj=io.BytesIO(built.blob), mode="r:gz") as tar:
            return waiting, sorted(tar.getnames())

    plain, deferred = names(False), names(True)
    assert not plain[0] and deferred[0], (plain[0], deferred[0])  # built only when read
    assert plain[1] == deferred[1] and any(n.endswith("flow.py") for n in plain[1]), (plain[1][:5], deferred[1][:5])
    print("same package")
''')


def test_a_code_package_built_when_read_is_the_package_metaflow_builds(tmp_path):
    (tmp_path / "flow.py").write_text(DEFERRED_PACKAGE)
    hook = Path(__file__).parent.parent / "flowmcp" / "bridge" / "hook"
    out = subprocess.run([sys.executable, "flow.py", str(hook)], cwd=tmp_path, env=env(), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "same package" in out.stdout, out.stderr[-3000:]


EDITED = textwrap.dedent('''
    from metaflow import FlowSpec, step


    class EditFlow(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.next(self.train)

        @step
        def train(self):
            self.y = self.x + 1
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        EditFlow()
''')


def test_a_spin_started_before_the_edit_is_described_answers_as_the_edit_says(tmp_path):
    """After an edit the spin starts at once from the last description, while the new version
    is described; it is kept only when the two agree, else the new version decides."""
    (tmp_path / "flow.py").write_text(EDITED)
    edits = [
        ("self.y = self.x + 1", "self.y = self.x + 2"),  # agrees: the early spin stands
        ("self.y = self.x + 2", "self.y = self.x +"),  # does not load
        ("self.y = self.x +", "self.y = self.x + 3"),
        ("class EditFlow", "class RenamedFlow"),  # another flow: spun as that one
    ]

    async def go():
        answers = []
        async with Client(build_server(App.create(tmp_path))) as client:
            assert not (await client.call_tool("run", {"flow": "flow.py"})).is_error
            await client.call_tool("spin", {"flow": "flow.py", "step": "train"})
            for old, new in edits:
                source = (tmp_path / "flow.py").read_text()
                (tmp_path / "flow.py").write_text(source.replace(old, new).replace("EditFlow()", "RenamedFlow()")
                                                  if old == "class EditFlow" else source.replace(old, new))
                answers.append(await client.call_tool("spin", {"flow": "flow.py", "step": "train"}))
        return answers

    agrees, broken, fixed, renamed = anyio.run(go)
    assert agrees.structured_content["artifacts"][0]["summary"] == "int 3", agrees.content[0].text
    assert broken.is_error and broken.content[0].text.startswith("flow.py:13 in <module> — SyntaxError")
    assert fixed.structured_content["artifacts"][0]["summary"] == "int 4"
    assert renamed.is_error and "RenamedFlow has no runs yet" in renamed.content[0].text
