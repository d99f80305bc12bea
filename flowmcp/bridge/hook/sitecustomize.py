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


_install()
_chain_to_next_sitecustomize()
