"""Metaflow pathspecs, parsed in one place: `Flow/run[/step[/task]]`, checked, with a message
that says what was expected."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadArgumentError
from ..summarize.text import cut_end

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # a flow or step: a Python identifier
_ID = r"[A-Za-z0-9_.-]{1,200}"  # a run or task id: Metaflow's are digits; some metadata services add letters
_PATHSPEC = re.compile(rf"^(?P<flow>{_NAME})(?:/(?P<run>{_ID})(?:/(?P<step>{_NAME})(?:/(?P<task>{_ID}))?)?)?$")
MAX_SHOWN = 200  # of a bad pathspec, echoed in the error


@dataclass(frozen=True)
class Pathspec:
    flow: str
    run: str | None = None
    step: str | None = None
    task: str | None = None

    @classmethod
    def parse(cls, text: str, *, least: str = "flow", what: str = "pathspec") -> Pathspec:
        """`text` as a pathspec naming at least a `least` ("flow", "run", "step" or "task")."""
        cleaned = str(text).strip().strip("/")
        match = _PATHSPEC.match(cleaned)
        depth = ("flow", "run", "step", "task").index(least)
        if match is None or match.group(("flow", "run", "step", "task")[depth]) is None:
            shown = cut_end(cleaned, MAX_SHOWN)
            raise BadArgumentError(f"{shown!r} is not a {what}: use {_FORMS[least]} (run, spin and list_runs "
                                   "answers show them).")
        return cls(match["flow"], match["run"], match["step"], match["task"])

    @classmethod
    def of_run(cls, text: str, flow: str) -> Pathspec:
        """A run argument: its id, or Flow/run_id of `flow`."""
        cleaned = str(text).strip().strip("/")
        if "/" not in cleaned:
            cleaned = f"{flow}/{cleaned}"
        spec = cls.parse(cleaned, least="run", what="run")
        if spec.flow != flow or spec.step is not None:
            raise BadArgumentError(f"run {text!r} is not a run of {flow}; pass {flow}/<run id> or the id.")
        return spec

    @property
    def run_pathspec(self) -> str:
        return f"{self.flow}/{self.run}"

    def __str__(self) -> str:
        return "/".join(part for part in (self.flow, self.run, self.step, self.task) if part is not None)


_FORMS = {
    "flow": "a flow name, or Flow/run_id[/step[/task_id]]",
    "run": "Flow/run_id, e.g. MyFlow/1718",
    "step": "Flow/run_id/step or Flow/run_id/step/task_id",
    "task": "Flow/run_id/step/task_id",
}
