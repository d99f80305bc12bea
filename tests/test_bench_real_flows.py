"""bench/real_flows.py finds flow files as Python runs them and copies a flow's git state with it
(no Metaflow here: source files and git only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
import real_flows  # bench/ is not a package: on sys.path above

BASE_FLOW = '''from metaflow import FlowSpec, step


class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)
'''

# No "FlowSpec" in its text: its flow class comes from base.py.
DERIVED_FLOW = '''from metaflow import step
from {module} import BaseFlow


class TrainFlow(BaseFlow):
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainFlow()
'''


def test_flow_files_include_a_flow_whose_base_flow_is_in_a_sibling_module_or_package(tmp_path):
    (tmp_path / "base.py").write_text(BASE_FLOW)
    (tmp_path / "train.py").write_text(DERIVED_FLOW.format(module="base"))
    (tmp_path / "shared").mkdir()  # a package re-exporting its base flow, as __init__.py files do
    (tmp_path / "shared" / "__init__.py").write_text("from .flows import BaseFlow\n")
    (tmp_path / "shared" / "flows.py").write_text(BASE_FLOW)
    (tmp_path / "packaged.py").write_text(DERIVED_FLOW.format(module="shared"))
    # says FlowSpec and @step, but its class derives from nothing that is a flow, and it starts nothing
    (tmp_path / "notes.py").write_text('"""FlowSpec subclasses need @step methods."""\nclass Notes:\n    pass\n')

    found = real_flows.find_flow_files(tmp_path)

    # base.py and shared/flows.py define a flow but never start it: `python base.py run` runs nothing
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["packaged.py", "train.py"]


def test_flow_files_include_a_single_step_flow_and_a_flow_on_an_installed_base(tmp_path):
    (tmp_path / "single.py").write_text(
        "import metaflow\n\n\nclass One(metaflow.FlowSpec):\n    @metaflow.step(start=True, end=True)\n"
        "    def only(self):\n        pass\n\n\nOne()\n")
    (tmp_path / "project.py").write_text(
        "from metaflow import step\nfrom obproject import ProjectFlow\n\n\nclass P(ProjectFlow):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n"
        "        pass\n\n\nif __name__ == '__main__':\n    P()\n")

    assert [p.name for p in real_flows.find_flow_files(tmp_path)] == ["project.py", "single.py"]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder,
                          capture_output=True, text=True, check=True).stdout.strip()


def git_view(folder: Path) -> dict:
    """What Metaflow's metaflow_git and a git-reading Config parser see from a flow's folder."""
    dirty = subprocess.run(["git", "diff-index", "--quiet", "HEAD", "--"], cwd=folder).returncode
    return {"commit": git(folder, "rev-parse", "HEAD"), "branch": git(folder, "rev-parse", "--abbrev-ref", "HEAD"),
            "origin": git(folder, "config", "--get", "remote.origin.url"),
            "message": git(folder, "log", "-1", "--pretty=%B"), "prefix": git(folder, "rev-parse", "--show-prefix"),
            "dirty": dirty}


def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    (repo / "flows").mkdir(parents=True)
    (repo / "flows" / "train.py").write_text(DERIVED_FLOW.format(module="base"))
    (repo / "flows" / "base.py").write_text(BASE_FLOW)
    (repo / ".github").mkdir()  # tracked, hidden: left out of a copy, git would call it deleted
    (repo / ".github" / "ci.yml").write_text("on: push\n")
    git(repo, "init", "-q", "-b", "trunk")
    git(repo, "remote", "add", "origin", "git@github.com:someone/project.git")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the flows")
    (repo / "flows" / ".metaflow").mkdir()  # an earlier run's state
    return repo


def test_a_copied_flow_folder_sees_the_same_git_state_clean_and_dirty(tmp_path):
    repo = repository(tmp_path)
    clean = real_flows.copy_folder(repo / "flows", tmp_path / "clean")
    assert clean == tmp_path / "clean" / "project" / "flows"
    assert git_view(clean) == git_view(repo / "flows")
    assert git_view(clean)["dirty"] == 0
    assert not (clean / ".metaflow").exists()

    (repo / "flows" / "base.py").write_text(BASE_FLOW + "# edited\n")
    dirty = real_flows.copy_folder(repo / "flows", tmp_path / "dirty")
    assert git_view(dirty) == git_view(repo / "flows")
    assert git_view(dirty)["dirty"] == 1


def test_a_copied_linked_worktree_has_a_git_directory_of_its_own(tmp_path):
    repo = repository(tmp_path)
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "feature"))
    original = tmp_path / "feature" / "flows"

    copy = real_flows.copy_folder(original, tmp_path / "copy")

    assert (copy.parent / ".git").is_dir()
    assert git_view(copy) == git_view(original)
    git(copy, "commit", "-q", "--allow-empty", "-m", "only in the copy")
    assert git(original, "log", "-1", "--pretty=%s") == "the flows"


# The end of `python failflow.py run` (outerbounds/custom-decorator-examples, basic-mutator): the
# first attempt's exception, then a fallback attempt that never called self.next.
FALLBACK_RUN_OUTPUT = """\
2026-12-06 18:53:32.622 [1796583212288473/start/1 (pid 19810)] math.sqrt(x - i)
2026-12-06 18:53:32.622 [1796583212288473/start/1 (pid 19810)] ValueError: math domain error
2026-12-06 18:53:32.622 [1796583212288473/start/1 (pid 19810)] Task failed.
2026-12-06 18:53:32.624 [1796583212288473/start/1 (pid 19817)] Task is starting (retry).
2026-12-06 18:53:32.910 [1796583212288473/start/1 (pid 19817)] step failed: executing a fallback
2026-12-06 18:53:32.980 [1796583212288473/start/1 (pid 19817)] Task finished successfully.
2026-12-06 18:53:32.982 Workflow failed.
    Internal error:
    Based on static analysis of the code, step start was expected to transition to step(s) end. \
However, when the code was executed, self.next() was called with . Make sure there is only one \
unconditional self.next() call in the end of your step.
"""


def test_cli_failure_reason_is_the_error_that_ended_the_run_not_a_retried_attempts():
    reason = real_flows.last_error_line(FALLBACK_RUN_OUTPUT)
    assert reason.startswith("Internal error: Based on static analysis"), reason


def test_runs_whose_recorded_git_state_differs_are_a_difference():
    recorded = '{"repo_url": "git@github.com:someone/project.git", "branch_name": "trunk", "commit_sha": "%s"}'
    cli = real_flows.SideResult(real_flows.Outcome(real_flows.OK), git_info=recorded % "d2dd7f9")
    same = real_flows.SideResult(real_flows.Outcome(real_flows.OK), git_info=recorded % "d2dd7f9")
    other = real_flows.SideResult(real_flows.Outcome(real_flows.OK), git_info=None)

    assert real_flows.compare_run("flow.py", cli, same).same
    row = real_flows.compare_run("flow.py", cli, other)
    assert not row.same and row.notes[0].startswith("git-info: "), row.notes


# A 3-level foreach's tasks as the Client reads them: task id -> [index, value] per level, outermost
# first. Task 8 is (b, 2, 10): innermost index 0, like the first split (a, 1, 10), task 10.
NESTED_SPLITS = {"8": [[1, "b"], [1, "2"], [0, "10"]], "10": [[0, "a"], [0, "1"], [0, "10"]],
                 "11": [[0, "a"], [0, "1"], [1, "20"]]}
FIRST = "split 0, input=10 (in group='a' [0], batch=1 [0])"
NOTE = "inner has 3 foreach splits; spun {spun}, the first{cli}. Pass split= an input value or an index to spin another"


def spun_inner(task: str, named: str, note: str, cli_default: str = "8") -> real_flows.StepRecord:
    return real_flows.StepRecord("inner", task="10", splits=NESTED_SPLITS, cli_default=cli_default, spun_task=task,
                                 named_split=named, named_index=real_flows.label_indices(named)[-1], split_note=note)


def cli_spun(task: str) -> real_flows.StepRecord:
    return real_flows.StepRecord("inner", task="10", splits=NESTED_SPLITS, spun_task=task)


def test_split_named_by_index_at_every_level():
    assert real_flows.label_indices("split 2, input='b'") == [2]
    assert real_flows.label_indices(FIRST) == [0, 0, 0]
    assert real_flows.label_indices("split 1, input=[1, 2] (in x='[3]' [4])") == [4, 1]
    assert real_flows.split_text(cli_spun("8"), "8") == "1/1/0 ('b'/2/10) of 3"


def test_a_true_word_on_the_split_spun_is_no_difference():
    cli = " (Metaflow's own `spin inner` would take split 0, input=10 (in group='b' [1], batch=2 [1]))"
    mcp = spun_inner("10", FIRST, NOTE.format(spun=FIRST, cli=cli))

    assert real_flows.split_differences(cli_spun("10"), mcp) == []


def test_a_split_named_by_its_innermost_index_alone_is_a_difference():
    # "spun split index 0" of a nested foreach, and the task was (b, 2, 10): issue 26's first finding
    named = "split 0, input=10"
    notes = real_flows.split_differences(cli_spun("8"), spun_inner("8", named, NOTE.format(spun=named, cli="")))

    assert any(n.startswith("flowmcp spun split 1/1/0 ('b'/2/10) of 3, not the first, 0/0/0") for n in notes), notes
    assert any(n.startswith("flowmcp names the split it spun 'split 0, input=10'") for n in notes), notes


def test_a_split_metaflow_would_spin_left_unsaid_or_misnamed_is_a_difference():
    # Metaflow's own spin takes task 8, (b, 2, 10): as the same innermost index, it was left unsaid
    [unsaid] = real_flows.split_differences(cli_spun("10"), spun_inner("10", FIRST, NOTE.format(spun=FIRST, cli="")))
    cli = " (Metaflow's own `spin inner` would take split 1, input=20 (in group='a' [0], batch=1 [0]))"
    [misnamed] = real_flows.split_differences(cli_spun("10"),
                                              spun_inner("10", FIRST, NOTE.format(spun=FIRST, cli=cli)))

    assert unsaid.startswith("flowmcp does not say Metaflow's own spin would take another split: 1/1/0"), unsaid
    assert misnamed.startswith("flowmcp says Metaflow's own spin would take \"split 1, input=20"), misnamed


def test_the_two_sides_spinning_different_splits_is_a_difference():
    cli = " (Metaflow's own `spin inner` would take split 0, input=10 (in group='b' [1], batch=2 [1]))"
    [different] = real_flows.split_differences(cli_spun("11"),
                                               spun_inner("10", FIRST, NOTE.format(spun=FIRST, cli=cli)))

    assert different == "spun different splits: CLI 0/0/1 ('a'/1/20) of 3, flowmcp 0/0/0 ('a'/1/10) of 3"


def test_the_cli_spins_the_split_flowmcp_spun_by_its_indices_at_every_level():
    record = cli_spun(None)
    assert real_flows.task_of_split(record, [1, 1, 0]) == "8"
    assert real_flows.task_of_split(record, [0, 0, 1]) == "11"
    assert real_flows.task_of_split(record, [5, 5, 5]) == "10"  # no such split: the first
    assert real_flows.task_of_split(record, None) == "10"
