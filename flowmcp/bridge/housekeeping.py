"""Spin datastore housekeeping: Metaflow never deletes spins, so flowmcp keeps the newest few.

Each spin leaves `.metaflow_spin/<Flow>/<spin id>/` (metadata, logs), maybe a card, and — with
persist — blobs in the flow's content-addressed `data/` store, shared between spins. We keep
the newest `keep` spins of a flow, never remove a persisted spin younger than an hour (an agent
may still inspect it), and then delete the blobs no remaining spin refers to.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

PERSISTED_GRACE_S = 3600  # a spin the agent asked to persist is kept at least this long
BLOB_GRACE_S = 600  # a blob this fresh may belong to a spin still being written


def prune_spins(root: Path, flow: str, keep: int, now: float | None = None) -> int:
    """Remove old spins of `flow` beyond the newest `keep`; return how many were removed."""
    now = time.time() if now is None else now
    spins = root / ".metaflow_spin" / flow
    runs = sorted((p for p in _children(spins) if p.name.isdigit()), key=lambda p: int(p.name), reverse=True)
    removed = 0
    for run in runs[keep:]:
        if _persisted(run) and now - run.stat().st_mtime < PERSISTED_GRACE_S:
            continue
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(root / ".metaflow_spin" / "mf.cards" / flow / "runs" / run.name, ignore_errors=True)
        removed += 1
    if removed:
        _collect_blobs(spins, now)
    return removed


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def _objects(run: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for data_json in run.glob("*/*/*.data.json"):
        try:
            objects = json.loads(data_json.read_text()).get("objects") or {}
        except (OSError, ValueError):
            continue
        if isinstance(objects, dict):
            found.update(objects)
    return found


def _persisted(run: Path) -> bool:
    return bool(_objects(run))


def _collect_blobs(spins: Path, now: float) -> None:
    """Delete blobs of the flow's spin store that no remaining spin refers to."""
    referenced = set()
    for run in _children(spins):
        if run.name.isdigit():
            referenced.update(_objects(run).values())
    for shard in _children(spins / "data"):
        for blob in shard.iterdir():
            key = blob.name.removesuffix("_meta")
            if key not in referenced and now - blob.stat().st_mtime > BLOB_GRACE_S:
                blob.unlink(missing_ok=True)
