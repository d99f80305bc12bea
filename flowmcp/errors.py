"""flowmcp's exceptions. Every one carries a message that tells the agent what to do next.

    FlowmcpError
    ├── OutsideRootError     a file argument resolves outside the project root
    ├── BadArgumentError     an argument is malformed (pathspec, parameter, path expression)
    ├── FlowFileError        the flow file is missing, not Python, broken, or has no/several flows
    ├── NotFoundError        a run, task, step or artifact that does not exist (with close matches)
    └── BridgeError          the project's interpreter could not do the job (crash, timeout)

Tools turn these into `ToolError`s at the protocol edge; nothing below the tools knows MCP.
"""

from __future__ import annotations


class FlowmcpError(Exception):
    """Base class: `str(error)` is the whole message for the agent."""


class OutsideRootError(FlowmcpError):
    pass


class BadArgumentError(FlowmcpError):
    pass


class FlowFileError(FlowmcpError):
    """`failure`, when set, is the summary of the Python error that stopped the file loading."""

    def __init__(self, message: str, failure: object | None = None):
        super().__init__(message)
        self.failure = failure


class NotFoundError(FlowmcpError):
    pass


class BridgeError(FlowmcpError):
    pass
