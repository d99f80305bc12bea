"""flowmcp's capture hook for Metaflow step processes (active only in processes flowmcp starts).

The server puts this folder first on PYTHONPATH for the flows it starts, so every process
Metaflow spawns loads it. When `metaflow.task` is imported, `bridge/project/step_hook.py` wraps
the function that runs the user's step, to record the live exception and what the task's
artifacts became. Then this hands over to any other sitecustomize on the path, so the user's own
keeps working.
"""

import os
import sys


def _chain_to_next_sitecustomize():
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _install():
    if not (os.environ.get("FLOWMCP_CAPTURE_DIR") or os.environ.get("FLOWMCP_WARM")):
        return
    try:
        import _flowmcp_loader

        compat = _flowmcp_loader.load("bridge.metaflow_compat")
    except Exception:
        return  # never break the user's step because our hook could not load

    def install(task_module):
        try:
            _flowmcp_loader.load("bridge.project.step_hook").install(task_module)
        except Exception:
            pass  # the answer falls back to the printed traceback

    compat.after_import("metaflow.task", install)


def _refuse_a_swapped_flow_file():
    """A step process Metaflow starts runs the flow file by its path: when that path is under
    the project root but has become a link to somewhere else since the job checked it, leave
    before Python reads it (the job reads its own copy with no link followed: cli.py)."""
    root = os.environ.get("FLOWMCP_ROOT")
    script = sys.argv[0] if sys.argv else ""
    if not root or not script.endswith(".py"):
        return
    path = os.path.abspath(script)
    if not path.startswith(os.path.join(root, "")):
        return  # flowmcp's own driver, or a script outside the project: not a flow file
    real = os.path.realpath(path)
    if real != path and not real.startswith(os.path.join(os.path.realpath(root), "")):
        sys.stderr.write("flowmcp: %s is now a link to %s, outside the project root; not running it\n"
                         % (script, real))
        sys.stderr.flush()
        os._exit(1)


_refuse_a_swapped_flow_file()
_install()
_chain_to_next_sitecustomize()
