"""Entry point of a job in the project's interpreter: `python driver.py REQUEST.json RESULT.json`.

The work is in `project/` (`project/dispatch.py`); this file only hands over to it, leaving
`__main__` bare for the flow that will execute there.
"""

if __name__ == "__main__":
    import sys

    import _flowmcp_loader  # first on PYTHONPATH: flowmcp/bridge/hook

    _flowmcp_loader.run_script("bridge.project.dispatch", globals(), sys.argv)
