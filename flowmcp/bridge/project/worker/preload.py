"""What a warm worker may preload, and when forking it would be unsafe.

Only installed libraries (the standard library and site-packages), never the project's modules;
never a library known to break under fork; and a worker whose imports started a thread refuses
jobs. A worker also records what its imports depend on, so the server can replace it when a
package is installed or Metaflow's configuration changes.
"""

import importlib.util
import os
import sys
import sysconfig
import threading

# Never preloaded, whatever the flow imports: a fork of a process holding them is not safe (CUDA
# contexts, gRPC and runtime thread pools do not survive fork). The job imports them fresh.
FORK_UNSAFE = {
    "torch": "CUDA state does not survive fork",
    "tensorflow": "starts threads and CUDA state at import",
    "jax": "its runtime's threads do not survive fork",
    "jaxlib": "its runtime's threads do not survive fork",
    "grpc": "gRPC is not fork-safe by default",
    "ray": "starts a runtime of its own",
    "pyspark": "talks to a JVM over sockets",
    "cupy": "CUDA state does not survive fork",
}


# A job's child gets the job's whole environment. Variables read while libraries are imported
# cannot change that way: a job whose value of one of these differs from the worker's would see
# the worker's imports configured for another value (metaflow_config reads METAFLOW_* once; the
# interpreter, the dynamic loader and numerical libraries' thread pools read theirs at start;
# locale and time zone; where the home and the user are), so it takes the plain path. Any other
# variable (an app's own, a CI step's GITHUB_ACTION) is simply the job's: the project server
# serves callers whose environments differ in those.
IMPORT_TIME_ENV = ("METAFLOW_", "FLOWMCP_", "PYTHON", "LD_", "DYLD_", "OMP_", "MKL_", "OPENBLAS_", "NUMEXPR_",
                   "VECLIB_", "CUDA_", "HOME", "USER", "LOGNAME", "USERNAME", "TZ", "LANG", "LC_", "VIRTUAL_ENV")
# Of those, the ones that differ per job by design and never change what the worker imported.
PER_JOB_ENV = ("FLOWMCP_CAPTURE_DIR", "FLOWMCP_CAPTURE_ARTIFACTS", "FLOWMCP_WARM")


# What every spin and describe uses, imported before the first job (later jobs teach the rest).
CORE = ["metaflow", "metaflow.cli", "metaflow.runtime", "metaflow.client", "metaflow.task"]


STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))  # Python 3.10+; older: learn less


def library_dirs():
    """Folders whose modules count as installed libraries: the standard library and site-packages."""
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        import site

        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except Exception:
        pass
    return sorted(os.path.realpath(d) for d in dirs if d)


def inside(path, dirs):
    path = os.path.realpath(path)
    return any(path == d or path.startswith(d + os.sep) for d in dirs)


def installed_origin(name, dirs):
    """Why the top-level module `name` may not be preloaded, or None when it is an installed library.

    Resolved without importing it, on the worker's path, which holds no project folder."""
    if name in sys.builtin_module_names:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except Exception as ex:
        return "cannot be resolved (%s)" % type(ex).__name__
    if spec is None:
        return "not installed"
    if spec.origin in (None, "namespace") or not spec.has_location:
        places = list(spec.submodule_search_locations or [])
        if places and all(inside(p, dirs) for p in places):
            return None
        return "not an installed library"
    if spec.origin == "frozen" or inside(spec.origin, dirs):
        return None
    return "not an installed library (%s)" % spec.origin


def python_threads():
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def fork_hazard():
    """Why forking this process now would not be safe, or None."""
    threads = python_threads()
    if threads:
        return "a library started thread(s) at import: %s" % ", ".join(threads[:3])
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                return "CUDA was initialised at import"
        except Exception:
            pass
    return None




def fingerprint(paths):
    """Modification times of what this worker's imports depend on: the folders packages are
    installed into (a pip install or uninstall changes them) and Metaflow's config files."""
    out = {}
    for path in paths:
        try:
            out[path] = os.stat(path).st_mtime_ns
        except OSError:
            out[path] = None  # absent; its creation counts as a change
    return out


def shadowed_modules(flow_dir, startup_modules=frozenset()):
    """Modules of the flow's folder named like one this worker imported: `python flow.py` would
    import the file instead, and our copy would be the wrong one. (A folder without
    `__init__.py` never shadows anything; modules loaded at interpreter start-up cannot be.)"""
    if not flow_dir:
        return set()
    try:
        entries = os.listdir(flow_dir)
    except OSError:
        return set()
    names = set()
    for entry in entries:
        if entry.endswith(".py"):
            names.add(entry[:-3])
        elif os.path.isfile(os.path.join(flow_dir, entry, "__init__.py")):
            names.add(entry)
    tops = {n.split(".")[0] for n in sys.modules if not n.startswith("_flowmcp")}
    tops -= {n.split(".")[0] for n in startup_modules}
    return {n for n in names & tops if n != "__main__"}

