"""One module per MCP tool. Each exposes one async function whose signature is the tool's input
schema, whose docstring is the description the agent reads, and whose return model is the
output schema."""

from .doctor import doctor
from .flow_status import flow_status
from .get_logs import get_logs
from .inspect_artifact import inspect_artifact
from .list_cards import list_cards
from .list_runs import list_runs
from .resume import resume
from .run import run
from .run_status import cancel_run, run_status
from .spin import spin
from .view_card import view_card

__all__ = [
    "cancel_run", "doctor", "flow_status", "get_logs", "inspect_artifact", "list_cards", "list_runs", "resume", "run",
    "run_status", "spin", "view_card",
]
