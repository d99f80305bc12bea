"""Housekeeping of what Metaflow never deletes: old spins, and client-cache copies of gone runs.

Each spin leaves `.metaflow_spin/<Flow>/<spin id>/` (metadata, logs), maybe a card, and — with
persist — blobs in the flow's content-addressed `data/` store, shared between spins. We keep
the newest `keep` spins of a flow, never remove a persisted spin younger than an hour (an agent
may still inspect it), and then delete the blobs no remaining spin refers to.

Reading an artifact through Metaflow's client leaves an uncompressed copy in the client cache
(`.flowmcp/client_cache`, 1 GB for a 1 GB artifact); copies whose run or blob is gone go too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable
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
        self.saved = SavedObjects()
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
            prune_spins(self.root, flow_name, self.keep_spins, saved=self.saved)
            prune_client_cache(self.root, self.client_cache)
        except Exception:
            log.exception("housekeeping of %s failed; it will be tried again after the next spin", flow_name)


class SavedObjects:
    """What each persisted spin saved ({artifact: content key}) and when, read once per spin. A
    pass runs after every spin and keeps every persisted spin younger than an hour: a suite of
    step tests leaves hundreds, and reading them all again each time cost more CPU than the spin
    itself. A finished spin's folder and `<attempt>.data.json` do not change; one not seen
    persisted yet (maybe still being written) is read again next time."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, dict[str, str]]] = {}  # run folder -> (mtime, objects)

    def __call__(self, run: str) -> dict[str, str]:
        known = self._known.get(run)
        if known is not None:
            return known[1]
        objects = layout.saved_objects(run)
        if objects:
            self._known[run] = (_mtime(run, time.time()), objects)
        return objects

    def kept(self, run: str, now: float) -> bool:
        """Whether `run` is a persisted spin younger than PERSISTED_GRACE_S (an agent may still
        inspect it)."""
        known = self._known.get(run)
        if known is None:
            if now - _mtime(run, now) >= PERSISTED_GRACE_S or layout.PERSIST_MARKER not in self(run):
                return False  # a spin without persist saved its parameters only: nothing to inspect
            known = self._known[run]
        return now - known[0] < PERSISTED_GRACE_S

    def forget_all_but(self, flow_folder: str, runs: Iterable[str]) -> None:
        """Drop what is known of this flow's spins that are gone (removed here or by another server)."""
        present = set(runs)
        prefix = os.path.join(flow_folder, "")
        for run in [r for r in self._known if r.startswith(prefix) and r not in present]:
            del self._known[run]


def prune_spins(root: Path, flow: str, keep: int, now: float | None = None, saved: SavedObjects | None = None) -> int:
    """Remove old spins of `flow` beyond the newest `keep`; return how many were removed."""
    now = time.time() if now is None else now
    saved = SavedObjects() if saved is None else saved
    spins = layout.spin_flow_folder(root, flow)
    runs = [os.path.join(spins, r) for r in sorted(layout.spin_run_ids(flow, root), key=int, reverse=True)]
    removed = set()
    for run in runs[keep:]:
        if saved.kept(run, now):
            continue
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(layout.spin_card_folder(root, flow, os.path.basename(run)), ignore_errors=True)
        removed.add(run)
    saved.forget_all_but(spins, (run for run in runs if run not in removed))
    if removed:
        _collect_blobs(root, flow, now, saved)
    return len(removed)


def _mtime(path: str | Path, default: float) -> float:
    """A file's modification time; `default` when it vanished meanwhile (another server pruned it)."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return default


def _collect_blobs(root: Path, flow: str, now: float, saved: SavedObjects) -> None:
    """Delete blobs of the flow's spin store that no remaining spin refers to."""
    spins = layout.spin_flow_folder(root, flow)
    referenced = set()
    for run_id in layout.spin_run_ids(flow, root):  # listed again: another server's new spins
        referenced.update(saved(os.path.join(spins, run_id)).values())
    for key, path in layout.blob_files(spins):
        if key not in referenced and now - _mtime(path, now) > BLOB_GRACE_S:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


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
