"""Housekeeping of what Metaflow never deletes: old spins, and client-cache copies of gone runs.

Each spin leaves `.metaflow_spin/<Flow>/<spin id>/` (metadata, logs), maybe a card, and — with
persist — blobs in the flow's content-addressed `data/` store, shared between spins. We keep
the newest `keep` spins of a flow, never remove a persisted spin younger than an hour (an agent
may still inspect it), and then delete the blobs no remaining spin refers to.

Reading an artifact through Metaflow's client leaves an uncompressed copy in the client cache
(`.flowmcp/client_cache`, 1 GB for a 1 GB artifact); copies whose run or blob is gone go too.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import anyio

from . import metaflow_compat as layout

PERSISTED_GRACE_S = 3600  # a spin the agent asked to persist is kept at least this long
BLOB_GRACE_S = 600  # a blob this fresh may belong to a spin still being written
TEMPORARY_GRACE_S = 3600  # a client-cache temporary file this fresh may still be being written

log = logging.getLogger("flowmcp")


class Housekeeper:
    """Runs the passes after answers, one at a time per flow, in the server's task group."""

    def __init__(self, root: Path, client_cache: Path, keep_spins: int):
        self.root, self.client_cache, self.keep_spins = root, client_cache, keep_spins
        self._running: dict[str, bool] = {}  # flow -> another pass wanted when this one ends

    async def after(self, flow_name: str, task_group=None) -> None:
        if task_group is None:
            await anyio.to_thread.run_sync(self.pass_over, flow_name)
            return
        if flow_name in self._running:
            self._running[flow_name] = True  # one more pass when the running one ends
            return
        self._running[flow_name] = False
        task_group.start_soon(self._passes, flow_name)

    async def _passes(self, flow_name: str) -> None:
        with anyio.CancelScope(shield=True):  # a pass is short: never leave one half done
            try:
                while True:
                    await anyio.to_thread.run_sync(self.pass_over, flow_name)
                    if not self._running.get(flow_name):
                        break
                    self._running[flow_name] = False
            finally:
                self._running.pop(flow_name, None)

    def pass_over(self, flow_name: str) -> None:
        """One pass. Background work never takes the server down: a pass that fails (a folder
        another server is pruning, a name we did not expect) is logged, and the next pass tries
        again."""
        try:
            prune_spins(self.root, flow_name, self.keep_spins)
            prune_client_cache(self.root, self.client_cache)
        except Exception:
            log.exception("housekeeping of %s failed; it will be tried again after the next spin", flow_name)


def prune_spins(root: Path, flow: str, keep: int, now: float | None = None) -> int:
    """Remove old spins of `flow` beyond the newest `keep`; return how many were removed."""
    now = time.time() if now is None else now
    spins = Path(layout.spin_flow_folder(root, flow))
    runs = sorted((spins / r for r in layout.spin_run_ids(flow, root)), key=lambda p: int(p.name), reverse=True)
    removed = 0
    for run in runs[keep:]:
        if layout.saved_objects(run) and now - _mtime(run, now) < PERSISTED_GRACE_S:
            continue
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(layout.spin_card_folder(root, flow, run.name), ignore_errors=True)
        removed += 1
    if removed:
        _collect_blobs(spins, now)
    return removed


def _mtime(path: Path, default: float) -> float:
    """A file's modification time; `default` when it vanished meanwhile (another server pruned it)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return default


def _collect_blobs(spins: Path, now: float) -> None:
    """Delete blobs of the flow's spin store that no remaining spin refers to."""
    referenced = set()
    for run_id in layout.spin_run_ids(spins.name, spins.parent.parent):
        referenced.update(layout.saved_objects(spins / run_id).values())
    for key, path in layout.blob_files(spins):
        blob = Path(path)
        if key not in referenced and now - _mtime(blob, now) > BLOB_GRACE_S:
            blob.unlink(missing_ok=True)


def prune_client_cache(root: Path, cache: Path, now: float | None = None) -> int:
    """Delete client-cache copies whose source is gone (a deleted run or blob), and temporary
    files a killed reader left behind; return how many. A temporary file younger than
    TEMPORARY_GRACE_S is another process's copy being written: deleting it fails that read."""
    now = time.time() if now is None else now
    removed = 0
    for path, is_folder, source_exists in list(layout.client_cache_copies(root, cache)):
        if source_exists is None and now - _mtime(Path(path), now) < TEMPORARY_GRACE_S:
            continue
        if source_exists:
            continue
        if is_folder:
            shutil.rmtree(path, ignore_errors=True)
        else:
            Path(path).unlink(missing_ok=True)
        removed += 1
    return removed
