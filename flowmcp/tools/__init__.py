"""One module per MCP tool. Each exposes one async function whose signature is the tool's input
schema, whose docstring is the description the agent reads, and whose return model is the
output schema."""

from .inspect_artifact import inspect_artifact
from .list_runs import list_runs
from .run import run
from .spin import spin

ALL = (run, spin, inspect_artifact, list_runs)
