"""Entry point of a warm worker in the project's interpreter: `python worker.py CONFIG.json`.

The work is in `project/worker/`. Two things are measured here, before any import, because only
a script's own first lines see them as `python flow.py` would: the modules the interpreter loaded
at start-up, and how deep a script's module code may recurse.
"""

import sys

STARTUP_MODULES = frozenset(sys.modules)


def _headroom():
    """How many nested calls the caller has left before RecursionError."""

    def down(n):
        try:
            return down(n + 1)
        except RecursionError:
            return n

    return down(0)


SCRIPT_HEADROOM = _headroom()

if __name__ == "__main__":
    import _flowmcp_loader  # first on PYTHONPATH: flowmcp/bridge/hook

    _flowmcp_loader.run_script("bridge.project.worker.server", globals(), sys.argv,
                               startup_modules=STARTUP_MODULES, script_headroom=SCRIPT_HEADROOM,
                               headroom=_headroom)
