"""Housekeeping of what Metaflow never deletes: old spins, and client-cache copies of gone runs.

Each spin leaves `.metaflow_spin/<Flow>/<spin id>/` (metadata, logs), maybe a card, and — with
persist — blobs in the flow's content-addressed `data/` store, shared between spins. We keep
the newest `keep` spins of a flow, never remove a persisted spin younger than an hour (an agent
may still inspect it), and then delete the blobs no remaining spin refers to.

Reading an artifact through Metaflow's client leaves an uncompressed copy in the client cache
(`.flowmcp/client_cache`, 1 GB for a 1 GB artifact); copies whose run or blob is gone go too.
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
    runs = sorted((p for p in _children(spins) if _is_id(p.name)), key=lambda p: int(p.name), reverse=True)
    removed = 0
    for run in runs[keep:]:
        if _persisted(run) and now - _mtime(run, now) < PERSISTED_GRACE_S:
            continue
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(root / ".metaflow_spin" / "mf.cards" / flow / "runs" / run.name, ignore_errors=True)
        removed += 1
    if removed:
        _collect_blobs(spins, now)
    return removed


def _is_id(name: str) -> bool:
    """A spin id: ASCII digits only (`'²'.isdigit()` is true, and int('²') raises)."""
    return name.isascii() and name.isdigit()


def _mtime(path: Path, default: float) -> float:
    """A file's modification time; `default` when it vanished meanwhile (another server pruned it)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return default


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
        if _is_id(run.name):
            referenced.update(_objects(run).values())
    for shard in _children(spins / "data"):
        for blob in _files(shard):
            key = blob.name.removesuffix("_meta")
            if key not in referenced and now - _mtime(blob, now) > BLOB_GRACE_S:
                blob.unlink(missing_ok=True)


def _files(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


# Metaflow's client cache layout (client/filecache.py, checked on 2.19.39): one folder per flow
# datastore, `<type>.<root with / as _>.<Flow>/<sha[:2]>/<sha>.blob`, and one per task,
# `<type>.<root>.<Flow>.<run>.<step>.<task>.<attempt>/`.
CACHED_STORES = {"local": ".metaflow", "spin": ".metaflow_spin"}


def prune_client_cache(root: Path, cache: Path) -> int:
    """Delete client-cache copies whose source is gone (a deleted run or blob); return how many."""
    removed = 0
    for kind, folder in CACHED_STORES.items():
        store = root / folder
        prefix = f"{kind}.{str(store).replace('/', '_')}."
        for entry in _children(cache):
            if not entry.name.startswith(prefix):
                continue
            parts = entry.name[len(prefix):].split(".")
            if len(parts) == 1:  # a flow's blobs
                for shard in _children(entry):
                    for blob in _files(shard):
                        sha = blob.name.removesuffix(".blob")
                        if not (store / parts[0] / "data" / sha[:2] / sha).exists():
                            blob.unlink(missing_ok=True)
                            removed += 1
            elif len(parts) == 5 and not (store / parts[0] / parts[1]).exists():  # a task of a gone run
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    return removed
