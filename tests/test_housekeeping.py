"""Spin datastore pruning: the newest spins stay, recent persisted ones stay, orphaned blobs go."""

from __future__ import annotations

import json
import os
import time

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.bridge.housekeeping import BLOB_GRACE_S, PERSISTED_GRACE_S, prune_spins
from flowmcp.server.build import build_server

from .conftest import call, make_project

pytestmark = pytest.mark.anyio


def _spin(root, flow, run_id, objects=None, age_s=0.0, persisted=True):
    """A spin's folder as Metaflow leaves it: with --persist its task saves every artifact and
    `_task_ok`; without, only its parameters (`objects` then)."""
    task = root / ".metaflow_spin" / flow / str(run_id) / "train" / "0"
    task.mkdir(parents=True)
    saved = dict(objects or {}, **({"_task_ok": f"ok{run_id}"} if objects and persisted else {}))
    (task / "0.data.json").write_text(json.dumps({"objects": saved}))
    then = time.time() - age_s
    os.utime(root / ".metaflow_spin" / flow / str(run_id), (then, then))
    return root / ".metaflow_spin" / flow / str(run_id)


def _blob(root, flow, key, age_s):
    shard = root / ".metaflow_spin" / flow / "data" / key[:2]
    shard.mkdir(parents=True, exist_ok=True)
    blob = shard / key
    blob.write_bytes(b"x")
    then = time.time() - age_s
    os.utime(blob, (then, then))
    return blob


def test_prune_keeps_the_newest_and_recent_persisted_spins_and_collects_orphan_blobs(tmp_path):
    old = PERSISTED_GRACE_S + 60
    kept_new = _spin(tmp_path, "F", 105)
    kept_newer = _spin(tmp_path, "F", 106)
    persisted_recent = _spin(tmp_path, "F", 103, objects={"model": "aa11"}, age_s=60)
    persisted_old = _spin(tmp_path, "F", 102, objects={"model": "bb22"}, age_s=old)
    plain_old = _spin(tmp_path, "F", 101, age_s=old)
    referenced = _blob(tmp_path, "F", "aa11", age_s=BLOB_GRACE_S + 60)
    orphan = _blob(tmp_path, "F", "bb22", age_s=BLOB_GRACE_S + 60)
    fresh = _blob(tmp_path, "F", "cc33", age_s=5)  # may belong to a spin being written

    assert prune_spins(tmp_path, "F", keep=2) == 2
    assert kept_new.exists() and kept_newer.exists() and persisted_recent.exists()
    assert not persisted_old.exists() and not plain_old.exists()
    assert referenced.exists() and fresh.exists() and not orphan.exists()


def test_prune_of_a_flow_without_spins_does_nothing(tmp_path):
    assert prune_spins(tmp_path, "Nothing", keep=1) == 0


async def test_spins_beyond_keep_spins_are_pruned_after_each_spin(tmp_path):
    project = make_project(tmp_path / "p", "params_flow.py")
    async with Client(build_server(App.create(project, keep_spins=2))) as c:
        await call(c, "run", flow="params_flow.py")
        spun = [(await call(c, "spin", flow="params_flow.py", step="end"))[1]["pathspec"] for _ in range(4)]
    left = sorted(p.name for p in (project / ".metaflow_spin" / "ParamsFlow").iterdir() if p.name.isdigit())
    assert left == sorted(s.split("/")[1] for s in spun[-2:])


def test_each_persisted_spin_is_read_once_across_passes(tmp_path, monkeypatch):
    """A pass runs after every spin and keeps persisted spins younger than an hour: a test suite
    leaves hundreds. Each is read once; a spin read as not persisted (maybe still being written)
    is read again; a spin that is gone is forgotten."""
    from flowmcp.bridge import housekeeping

    read = []
    real = housekeeping.layout.saved_objects
    monkeypatch.setattr(housekeeping.layout, "saved_objects",
                        lambda run: read.append(os.path.basename(run)) or real(run))
    for run_id in range(1, 6):
        _spin(tmp_path, "F", run_id, objects={"x": f"k{run_id}"})
    not_yet = _spin(tmp_path, "F", 0)  # no objects (yet)
    saved = housekeeping.SavedObjects()

    assert prune_spins(tmp_path, "F", keep=1, saved=saved) == 1  # 0 goes: not persisted
    assert sorted(read) == ["0", "1", "2", "3", "4", "5"] and not not_yet.exists()  # 5: for its blobs
    read.clear()
    assert prune_spins(tmp_path, "F", keep=1, saved=saved) == 0
    assert read == []  # known persisted: not read again
    an_hour_later = time.time() + PERSISTED_GRACE_S + 1
    assert prune_spins(tmp_path, "F", keep=1, saved=saved, now=an_hour_later) == 4  # 1-4 go, unread
    assert read == [] and list(saved._known) == [str(tmp_path / ".metaflow_spin" / "F" / "5")]


def test_a_spin_without_persist_is_not_kept_for_an_hour_for_its_parameters(tmp_path):
    _spin(tmp_path, "F", 2, objects={"alpha": "p1"})
    unpersisted = _spin(tmp_path, "F", 1, objects={"alpha": "p1"}, persisted=False, age_s=60)
    assert prune_spins(tmp_path, "F", keep=1) == 1 and not unpersisted.exists()


def test_a_blob_that_vanishes_while_it_is_pruned_is_no_error(tmp_path, monkeypatch):
    """Another server (or spin) deletes blobs while this pass lists them: each one it lists is
    gone by the time it is looked at, for real, on disk."""
    from flowmcp.bridge import housekeeping

    old = PERSISTED_GRACE_S + 60
    _spin(tmp_path, "F", 2)
    _spin(tmp_path, "F", 1, age_s=old)
    blobs = [_blob(tmp_path, "F", key, age_s=BLOB_GRACE_S + 60) for key in ("aa11", "bb22", "cc33")]
    listed = housekeeping.layout.blob_files

    def vanishing(folder):
        for key, path in listed(folder):
            os.unlink(path)  # between the listing and the look at its age
            yield key, path

    monkeypatch.setattr(housekeeping.layout, "blob_files", vanishing)
    assert prune_spins(tmp_path, "F", keep=1) == 1
    assert not any(b.exists() for b in blobs)


def test_a_pass_that_fails_is_logged_and_the_next_pass_runs(tmp_path, monkeypatch, caplog):
    from flowmcp.bridge import housekeeping

    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        raise ValueError("a name nobody expected")

    monkeypatch.setattr(housekeeping, "prune_spins", failing)
    keeper = housekeeping.Housekeeper(tmp_path, tmp_path / "cache", keep_spins=1)
    keeper.pass_over("F")  # never raises: background work must not take the server down
    keeper.pass_over("F")
    assert len(calls) == 2 and "housekeeping of F failed" in caplog.text
