"""flowmcp's exceptions. Every one carries a message that tells the agent what to do next.

    FlowmcpError
    ├── OutsideRootError     a file argument resolves outside the project root
    ├── BadArgumentError     an argument is malformed (pathspec, parameter, path expression)
    ├── FlowFileError        the flow file is missing, not Python, broken, or has no/several flows
    ├── NotFoundError        a run, task, step or artifact that does not exist (with close matches)
    └── BridgeError          the project's interpreter could not do the job
        └── InterpreterDied  it ended without a result (killed, crashed, out of memory)

Tools turn these into `ToolError`s at the protocol edge; nothing below the tools knows MCP. The
project's interpreter reports its failures by kind (`bridge/protocol.py`); `bridge/client.py`
maps each kind to one of these classes in one table, keeping the structured `detail`.
"""

from __future__ import annotations


class FlowmcpError(Exception):
    """Base class: `str(error)` is the whole message for the agent; `detail` holds what the
    project's side reported beside it (an exception record, close matches), if anything."""

    def __init__(self, message: str = "", *, detail: dict | None = None):
        super().__init__(message)
        self.detail = detail or {}


class OutsideRootError(FlowmcpError):
    pass


class BadArgumentError(FlowmcpError):
    pass


class FlowFileError(FlowmcpError):
    """`failure`, when set, is the summary of the Python error that stopped the file loading."""

    def __init__(self, message: str, failure: object | None = None, *, detail: dict | None = None):
        super().__init__(message, detail=detail)
        self.failure = failure


class NotFoundError(FlowmcpError):
    pass


class BridgeError(FlowmcpError):
    pass


class InterpreterDied(BridgeError):
    pass


class ProjectPythonError(FlowmcpError):
    """The project's interpreter cannot run flows for flowmcp (no Metaflow, an unsupported one)."""
