"""A task's attempts, from the step hook's records (one per attempt): which attempt had the last
word, which errors @retry ran again, and which ones @catch kept so that the run went on.

A record's key is its task (step, task id); `attempt` counts from 0. An attempt that raised and
was followed by another attempt did not end its task: it is a retried attempt, never the task's
failure, and never "caught".
"""

from __future__ import annotations

from dataclasses import dataclass

# Metaflow's @catch runs this stand-in when the user's last attempt did not even end (its process
# died): the exception is @catch's own bookkeeping, not the step's code.
CATCH_FALLBACK = "FailureHandledByCatch"


@dataclass
class TaskAttempts:
    step: str | None
    task_id: object
    records: list[dict]  # every attempt's record, first attempt first

    @property
    def last(self) -> dict:
        return self.records[-1]

    @property
    def retried(self) -> list[dict]:
        """The attempts that raised and were run again."""
        return [r for r in self.records[:-1] if r.get("exception")]

    @property
    def split(self) -> dict | None:
        return next((r.get("split") for r in reversed(self.records) if r.get("split")), None)


def by_task(captures: list[dict]) -> list[TaskAttempts]:
    """The records grouped by task, in task order (ids are numbers for runs, 0 for a spin)."""
    tasks: dict[tuple, list[dict]] = {}
    for record in captures:
        tasks.setdefault((record.get("step"), record.get("task_id")), []).append(record)
    out = [TaskAttempts(step, task_id, sorted(records, key=lambda r: r.get("attempt") or 0))
           for (step, task_id), records in tasks.items()]
    return sorted(out, key=lambda t: (_number(t.task_id), str(t.step)))


def final(captures: list[dict]) -> list[dict]:
    """The last attempt's record of each task: what decided how the task ended."""
    return [task.last for task in by_task(captures)]


def exception_of(record: dict) -> dict | None:
    """The exception the step's code raised in this attempt (not @catch's stand-in)."""
    exc = record.get("exception")
    if not exc or exc.get("type") == CATCH_FALLBACK:
        return None
    return exc


def _number(task_id) -> int:
    try:
        return int(task_id)
    except (TypeError, ValueError):
        return 0
