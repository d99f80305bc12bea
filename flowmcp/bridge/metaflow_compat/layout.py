"""Where Metaflow keeps things on disk, as a local project sees them (checked: 2.19.39)."""

import json
import os

# Where Metaflow keeps things, as a local project sees them (checked: 2.19.39).

LOCAL_DIR = ".metaflow"  # runs: <root>/.metaflow/<Flow>/<run>/<step>/<task>/, blobs in <Flow>/data/
SPIN_DIR = ".metaflow_spin"  # spins: the same layout, one run per spin, found by walking up like .metaflow
# Spin cards: <spin root>/.metaflow_spin/mf.cards/<Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/
SPIN_CARDS = ("mf.cards",)
LATEST_RUN = "latest_run"  # <root>/.metaflow/<Flow>/latest_run: the id a bare `spin step` or `resume` takes


def is_run_id(name):
    """A spin or local run id folder: ASCII digits (`'²'.isdigit()` is true, and int('²') raises)."""
    return name.isascii() and name.isdigit()


def spin_root():
    """The folder holding `.metaflow_spin` for this process: METAFLOW_DATASTORE_SYSROOT_SPIN's
    parent when set, else the working directory (the project root for every job flowmcp starts)."""
    root = os.environ.get("METAFLOW_DATASTORE_SYSROOT_SPIN")
    if root:
        return os.path.dirname(root.rstrip("/"))
    return os.getcwd()


def spin_run_ids(flow_name, root=None):
    folder = os.path.join(root or spin_root(), SPIN_DIR, flow_name)
    try:
        with os.scandir(folder) as entries:  # the entries' types come with the listing: no stat each
            return [e.name for e in entries if is_run_id(e.name) and e.is_dir()]
    except OSError:
        return []


def spin_steps(flow_name, run_id, root=None):
    """The step(s) a spin ran (a spin run holds one)."""
    folder = os.path.join(root or spin_root(), SPIN_DIR, flow_name, run_id)
    try:
        return sorted(n for n in os.listdir(folder) if not n.startswith((".", "_")))
    except OSError:
        return []


def is_spin_run(flow_name, run_id, root):
    return os.path.isdir(os.path.join(root, SPIN_DIR, flow_name, str(run_id)))


def spin_card_files(task_pathspec, root=None):
    """[((card type, hash), path)] of the cards a spun task rendered, in name order."""
    flow, run_id, step, task_id = task_pathspec.split("/")
    folder = os.path.join(root or spin_root(), SPIN_DIR, *SPIN_CARDS, flow, "runs", run_id, "steps", step,
                          "tasks", task_id, "cards")
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".html"))
    except OSError:
        return []
    return [((n.split("-")[0], n.rsplit("-", 1)[-1][:-5]), os.path.join(folder, n)) for n in names]


def local_datastore_root():
    """The `.metaflow` folder Metaflow itself would use from here (it searches parent folders)."""
    from metaflow.plugins.datastores.local_storage import LocalStorage

    return LocalStorage.get_datastore_root_from_config(None, create_on_absent=False)


def local_run_ids(flow_name):
    """Run ids of a flow in the local datastore, from its folder names (cheap: no metadata read)."""
    datastore = local_datastore_root()
    if datastore is None:
        return []
    folder = os.path.join(datastore, flow_name)
    try:
        names = [n for n in os.listdir(folder) if n[:1].isalnum() and n != "data"]
    except OSError:
        return []
    return [n for n in names if os.path.isdir(os.path.join(folder, n))]


def has_local_runs(flow_name, root):
    return os.path.isdir(os.path.join(root, LOCAL_DIR, flow_name))


def config_files(root):
    """The files Metaflow reads its configuration from when imported (`metaflow_config_funcs`):
    `$METAFLOW_HOME/config[_PROFILE].json` and the project's `.metaflow/config.json`."""
    home = os.environ.get("METAFLOW_HOME", "~/.metaflowconfig")
    profile = os.environ.get("METAFLOW_PROFILE")
    name = "config_%s.json" % profile if profile else "config.json"
    return [os.path.expanduser(os.path.join(home, name)), os.path.join(root, LOCAL_DIR, "config.json")]


def latest_run_file(flow_name):
    datastore = local_datastore_root()
    return os.path.join(datastore, flow_name, LATEST_RUN) if datastore else None


# ---- what housekeeping needs: spins' folders, their saved objects, and the client cache's copies


def spin_flow_folder(root, flow_name):
    """<root>/.metaflow_spin/<Flow>: one folder per spin run, and `data/` (the spins' blobs)."""
    return os.path.join(str(root), SPIN_DIR, flow_name)


def spin_card_folder(root, flow_name, run_id):
    return os.path.join(str(root), SPIN_DIR, *SPIN_CARDS, flow_name, "runs", str(run_id))


# Metaflow saves `_task_ok` with every task it persists, and a spin without --persist saves only
# its parameters (checked: 2.19.39): the one sign on disk of whether a spin kept its outputs.
PERSIST_MARKER = "_task_ok"


def spin_persisted(flow_name, run_id, root=None):
    """Whether a spin run kept its outputs (was started with --persist)."""
    return PERSIST_MARKER in saved_objects(os.path.join(root or spin_root(), SPIN_DIR, flow_name, str(run_id)))


def saved_objects(run_folder):
    """{artifact name: content key} a persisted spin saved (its tasks' `<attempt>.data.json`);
    empty for a spin without --persist."""
    found = {}
    for step in _subfolders(run_folder):
        for task in _subfolders(step):
            for name in _names(task):
                if not name.endswith(".data.json"):
                    continue
                try:
                    with open(os.path.join(task, name)) as f:
                        objects = json.load(f).get("objects") or {}
                except (OSError, ValueError):
                    continue
                if isinstance(objects, dict):
                    found.update(objects)
    return found


def blob_files(flow_folder):
    """(content key, path) of every blob file of a flow's store (`data/<key[:2]>/<key>[_meta]`)."""
    for shard in _subfolders(os.path.join(str(flow_folder), "data")):
        for name in _names(shard):
            yield name[: -len("_meta")] if name.endswith("_meta") else name, os.path.join(shard, name)


# The client cache (client/filecache.py): one folder per flow datastore,
# `<type>.<root with / as _>.<Flow>/<key[:2]>/<key>.blob`, and one per task,
# `<type>.<root>.<Flow>.<run>.<step>.<task>.<attempt>/`.
CACHED_STORES = {"local": LOCAL_DIR, "spin": SPIN_DIR}


def client_cache_copies(root, cache):
    """What the client cache holds for this root's stores, and whether its source still exists:
    yields (path, is_folder, source_exists) for each blob copy and each task folder, and
    (path, False, None) for each temporary file (`dlobj*`) that a copy is being written through:
    FileCache.create_file writes one and renames it to `<key>.blob`, so it is not a copy."""
    for kind, folder in CACHED_STORES.items():
        store = os.path.join(str(root), folder)
        prefix = "%s.%s." % (kind, store.replace("/", "_"))
        for entry in _names(str(cache)):
            if not entry.startswith(prefix):
                continue
            path = os.path.join(str(cache), entry)
            parts = entry[len(prefix):].split(".")
            if len(parts) == 1:  # a flow's blobs
                for shard in _subfolders(path):
                    for name in _names(shard):
                        if not name.endswith(".blob"):
                            yield os.path.join(shard, name), False, None
                            continue
                        key = name[: -len(".blob")]
                        source = os.path.join(store, parts[0], "data", key[:2], key)
                        yield os.path.join(shard, name), False, os.path.exists(source)
            elif len(parts) == 5:  # a task's metadata
                yield path, True, os.path.isdir(os.path.join(store, parts[0], parts[1]))


def _names(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _subfolders(folder):
    return [os.path.join(folder, n) for n in _names(folder) if os.path.isdir(os.path.join(folder, n))]


def task_runtime_record(pathspec, attempt):
    """What Metaflow's runtime saved of a local task's process: {"return_code", "killed",
    "success"}, or None (another datastore, or not saved). Checked: 2.19.39 (`Worker.terminate`
    saves it with `TaskDataStore.save_metadata("runtime")` as `<attempt>.runtime`)."""
    import json

    datastore = local_datastore_root()
    if datastore is None:
        return None
    path = os.path.join(datastore, *pathspec.split("/"), "%d.runtime" % (attempt or 0))
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
