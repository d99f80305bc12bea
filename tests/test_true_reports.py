"""Pure parts of true reports: run status from the ledger, which file a run came from, the flow
catalog, failure origins, housekeeping that never dies, and `flowmcp call`'s usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowmcp.bridge.housekeeping import prune_client_cache, prune_spins
from flowmcp.bridge.project import listing
from flowmcp.bridge.project import runs as driver
from flowmcp.cli.headless import usage_problem
from flowmcp.state import catalog as catalog_module
from flowmcp.state.catalog import FlowCatalog, read_head
from flowmcp.state.ledger import RunLedger, process_start
from flowmcp.summarize import failure as failure_summary
from flowmcp.summarize import failure_data, failure_sources, hints

# ----------------------------------------------------------------------------- run status


def test_a_run_flowmcp_stopped_says_how_whatever_metaflow_recorded():
    entry = {"pid": 1, "ended": {"status": "cancelled", "message": "cancelled after 3 s"}}
    assert driver.true_status("running", entry) == ("cancelled", "cancelled after 3 s")
    assert driver.true_status("failed", entry)[0] == "cancelled"
    assert driver.true_status("succeeded", entry) == ("succeeded", None)  # it finished before the cancel


def test_a_running_run_whose_process_is_gone_is_failed():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    status, why = driver.true_status("running", {"pid": gone.pid, "pid_start": "1"})
    assert status == "failed" and "processes are gone" in why
    alive = {"pid": os.getpid(), "pid_start": process_start(os.getpid())}
    assert driver.true_status("running", alive) == ("running", None)


def test_a_reused_pid_does_not_keep_a_dead_run_running():
    entry = {"pid": os.getpid(), "pid_start": "not this process's start"}
    assert driver.true_status("running", entry)[0] == "failed"


def test_runs_flowmcp_did_not_start_keep_metaflows_status():
    assert driver.true_status("running", None) == ("running", None)


def test_the_ledger_refuses_names_that_are_not_plain(tmp_path):
    ledger = RunLedger(tmp_path)
    assert ledger.path("Flow", "../../etc") is None
    ledger.started("Flow", "12", file="flow.py", pid=os.getpid())
    ledger.ended("Flow", "12", "timed_out", "stopped after 4 s")
    entry = ledger.read("Flow", "12")
    assert entry["file"] == "flow.py" and entry["ended"]["status"] == "timed_out"
    assert entry["pid_start"] == process_start(os.getpid())


# ----------------------------------------------------------------------------- which file a run came from


class _Task:
    def __init__(self, script):
        self.metadata_dict = {"script-name": script}


class _Step:
    def __init__(self, name, script=None):
        self.id = name
        self.task = _Task(script)


class _Run:
    """Stands in for a Client Run: only what `run_file` reads (any step's task names the script:
    the entry step need not be called start)."""

    def __init__(self, steps, script, flow="PlaylistFlow", run_id="5"):
        self.id, self._steps, self._script = run_id, steps, script
        self.parent = _Step(flow)

    def __iter__(self):
        return iter(_Step(s, self._script) for s in self._steps)

    def __getitem__(self, step):
        raise KeyError(step)  # run_file must not need a step of a given name


IDENTITY = {"file": "b/flow.py", "steps": ["start", "rank", "shortlist", "end"],
            "rivals": [{"file": "a/flow.py", "steps": ["start", "bonus", "genre", "join", "end"]},
                       {"file": "c/other.py", "steps": ["start", "end"]}]}


def test_a_run_is_matched_to_its_file_by_script_name_then_by_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWMCP_ROOT", str(tmp_path))
    assert listing.run_file(_Run(["start"], "other.py"), IDENTITY) == "c/other.py"
    assert listing.run_file(_Run(["start", "rank"], "flow.py"), IDENTITY) == "b/flow.py"  # a failed run: a subset
    assert listing.run_file(_Run(["start", "end"], "flow.py"), IDENTITY) is None  # both files could have made it


def test_the_ledger_names_the_file_of_runs_flowmcp_started(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWMCP_ROOT", str(tmp_path))
    RunLedger(tmp_path / ".flowmcp").started("PlaylistFlow", "5", file="a/flow.py", pid=None)
    assert listing.run_file(_Run(["start", "rank"], "flow.py"), IDENTITY) == "a/flow.py"


# ----------------------------------------------------------------------------- the catalog


def test_the_catalog_finds_flows_and_the_classes_they_declare(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_module, "FRESH_S", 0.0)  # every call walks again
    flow = ("from metaflow import FlowSpec, step\nclass PlaylistFlow(FlowSpec):\n    @step\n    def start(self): pass\n"
            "if __name__ == '__main__':\n    PlaylistFlow()\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "flow.py").write_text(flow)
    (tmp_path / "b.py").write_text(flow)
    (tmp_path / "helper.py").write_text("x = 1\n")
    # A base flow in a module of its own, and a file that starts a flow derived from it without
    # ever naming FlowSpec: the derived file is a flow file, the base module is not (it starts none)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "base.py").write_text("from metaflow import FlowSpec, step\nclass Base(FlowSpec):\n"
                                            "    @step(start=True)\n    def begin(self): pass\n")
    (tmp_path / "c" / "derived.py").write_text("from base import Base\nclass Derived(Base):\n    pass\n"
                                               "if __name__ == '__main__':\n    Derived()\n")
    catalog = FlowCatalog(tmp_path)
    assert [f.path.relative_to(tmp_path).as_posix() for f in catalog.files()] == ["a/flow.py", "b.py",
                                                                                  "c/derived.py"]
    assert len(catalog.declaring("PlaylistFlow")) == 2
    (tmp_path / "b.py").unlink()
    assert len(catalog.declaring("PlaylistFlow")) == 1


def test_the_catalog_never_opens_a_fifo_nor_follows_a_link_out_of_the_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "flow.py").write_text("class F(FlowSpec):\n    @step\n    def start(self): pass\n")
    (root / "link.py").symlink_to(outside / "flow.py")
    (root / "linked_dir").symlink_to(outside)
    os.mkfifo(root / "pipe.py")
    started = time.monotonic()
    assert FlowCatalog(root).files() == []
    assert time.monotonic() - started < 5
    assert read_head(root / "pipe.py", 100) is None


# ----------------------------------------------------------------------------- failure origins


def test_metaflow_markup_and_doubled_colons_are_plain_text():
    assert failure_sources.plain_metaflow_text("Step *start* in flow.py:line 8:: bad") == \
        "Step start in flow.py:line 8: bad"


def test_a_known_metaflow_spin_bug_is_not_blamed_on_the_users_line():
    failure = failure_data.Failure(
        "TypeError", "expected str, bytes or os.PathLike object, not NoneType",
        frames=[failure_data.Frame("flow.py", 31, "join", 'print("x is %s" % self.pass_down)', user=True),
                failure_data.Frame("/venv/site-packages/metaflow/datastore/content_addressed_store.py", 168,
                                      "load_blobs")])
    hints.spin_context(failure, [])
    assert failure.origin == "metaflow" and failure.hints[0].startswith("Not your code")


def test_a_flow_level_error_with_no_user_line_points_at_nothing_of_metaflows():
    failure = failure_data.Failure(
        "TypeError", "unexpected keyword argument 'external_trigger'", origin="flow",
        frames=[failure_data.Frame("/venv/site-packages/metaflow/_vendor/click/core.py", 1714, "__init__",
                                      "Parameter.__init__(self)")])
    text = failure_summary.render(failure)
    assert text.splitlines()[0] == "TypeError: unexpected keyword argument 'external_trigger'"
    assert "click" not in text


def test_the_environment_error_names_the_argument_to_pass():
    failure = failure_summary.from_metaflow_error(
        {"type": "InvalidEnvironmentException", "headline": "Incompatible environment",
         "message": "@pypi decorator requires --environment=conda or --environment=pypi"}, Path("/p"))
    assert failure.origin == "flow" and failure.hints[0].startswith('Pass environment="pypi"')


# ----------------------------------------------------------------------------- housekeeping never dies


def test_pruning_ignores_folders_that_only_look_like_spin_ids(tmp_path):
    (tmp_path / ".metaflow_spin" / "Flow" / "²").mkdir(parents=True)
    (tmp_path / ".metaflow_spin" / "Flow" / "12").mkdir()
    assert prune_spins(tmp_path, "Flow", keep=1) == 0


def test_client_cache_copies_of_gone_runs_and_blobs_are_deleted(tmp_path):
    store = tmp_path / ".metaflow"
    (store / "Flow" / "7").mkdir(parents=True)
    (store / "Flow" / "data" / "ab").mkdir(parents=True)
    (store / "Flow" / "data" / "ab" / "abc").write_text("blob")
    cache = tmp_path / ".flowmcp" / "client_cache"
    prefix = "local." + str(store).replace("/", "_")
    kept_task, gone_task = cache / f"{prefix}.Flow.7.start.1.0", cache / f"{prefix}.Flow.8.start.1.0"
    blobs = cache / f"{prefix}.Flow" / "ab"
    for folder in (kept_task, gone_task, blobs):
        folder.mkdir(parents=True)
    (blobs / "abc.blob").write_text("copy")
    (blobs / "abd.blob").write_text("copy of a deleted blob")
    # A reader's copy in flight (FileCache.create_file writes `dlobj*`, then renames it):
    # deleting it failed a concurrent spin in CI. One left by a killed reader an hour ago goes.
    (blobs / "dlobjfresh").write_text("being written")
    (blobs / "dlobjstale").write_text("left behind")
    hour_ago = time.time() - 3700
    os.utime(blobs / "dlobjstale", (hour_ago, hour_ago))
    assert prune_client_cache(tmp_path, cache) == 3
    assert kept_task.exists() and not gone_task.exists()
    assert (blobs / "abc.blob").exists() and not (blobs / "abd.blob").exists()
    assert (blobs / "dlobjfresh").exists() and not (blobs / "dlobjstale").exists()


# ----------------------------------------------------------------------------- flowmcp call


SCHEMA = {"properties": {"flow": {}, "step": {}, "run": {}}, "required": ["flow", "step"]}


@pytest.mark.parametrize("arguments, problem", [
    ({"flow": "f.py"}, "missing required argument step; it takes: flow (required), step (required), run"),
    ({"flow": "f.py", "step": "s", "rn": 1}, "unknown argument rn; it takes: flow (required), step (required), run"),
    ({"flow": "f.py", "step": "s"}, None),
])
def test_call_says_which_argument_is_missing_or_unknown(arguments, problem):
    assert usage_problem("spin", SCHEMA, arguments) == problem


# ----------------------------------------------------------------------------- pathspecs


@pytest.mark.parametrize("text, least, parts", [
    ("F/12/start/3", "task", ("F", "12", "start", "3")),
    ("/F/12/start/", "step", ("F", "12", "start", None)),
    ("F/12", "run", ("F", "12", None, None)),
])
def test_pathspecs_are_parsed_in_one_place(text, least, parts):
    from flowmcp.tools._pathspec import Pathspec

    spec = Pathspec.parse(text, least=least)
    assert (spec.flow, spec.run, spec.step, spec.task) == parts


@pytest.mark.parametrize("text, least", [("F", "run"), ("F/12", "step"), ("F/1 2/start", "step"),
                                         ("9F/12", "run"), ("F/" + "1" * 5000, "run")])
def test_a_bad_pathspec_says_what_was_expected_and_echoes_at_most_a_little(text, least):
    from flowmcp.errors import BadArgumentError
    from flowmcp.tools._pathspec import Pathspec

    with pytest.raises(BadArgumentError) as raised:
        Pathspec.parse(text, least=least)
    assert "use Flow/run_id" in str(raised.value) and len(str(raised.value)) < 400


def test_a_run_argument_is_an_id_or_a_run_of_the_same_flow():
    from flowmcp.errors import BadArgumentError
    from flowmcp.tools._pathspec import Pathspec

    assert Pathspec.of_run("12", "F").run == "12" and Pathspec.of_run("F/12", "F").run == "12"
    with pytest.raises(BadArgumentError, match="not a run of F"):
        Pathspec.of_run("G/12", "F")
