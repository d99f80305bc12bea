"""A bridge that answers from saved records (the fast tier), and one that saves what a real one said.

`FakeBridge` has the typed face of `flowmcp.bridge.client.Bridge`: each method returns the record
queued for it (or raises the error queued), so a tool's arguments, errors and rendering are tested
in milliseconds without Metaflow, as httpx's MockTransport stands in for the network. What it was
asked is kept in `calls`. `RecordingBridge` wraps the real bridge and keeps every answer, so the
records the fast tier replays can be captured from real spins (tests/corpus/<case>/record.json).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flowmcp.bridge.client import Ran

ROOT = "<root>"
OPS = ("describe", "runs", "flows", "run_detail", "inspect", "logs", "cards", "artifact_value", "run", "spin")


class _Warm:
    """What tests and the server's shutdown ask of the warm pool when there is none."""

    def __init__(self):
        self.workers: dict = {}

    async def aclose(self) -> None:
        return None


def _answering(op: str):
    async def method(self, *args, **kwargs):
        return self._answer(op, *args, **kwargs)

    method.__name__ = op
    return method


class FakeBridge:
    def __init__(self, root: Path):
        self.root = root
        self.answers: dict[str, deque] = defaultdict(deque)
        self.calls: list[tuple[str, tuple, dict]] = []
        self.spins: set[tuple[str, str]] = set()  # (flow, run id) pairs that are spins
        self.flows_with_runs: set[str] = set()
        self.degraded: dict[str, str] = {}
        self.warm = _Warm()

    def queue(self, op: str, answer: Any) -> FakeBridge:
        """The next call of `op` answers `answer`: a record, a `Ran`, or an exception to raise."""
        assert op in OPS, op
        self.answers[op].append(answer)
        return self

    def _answer(self, op: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((op, args, kwargs))
        if not self.answers[op]:
            raise AssertionError(f"the fake bridge was asked for {op} {args} {kwargs}, and has no answer queued")
        answer = self.answers[op].popleft()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def is_spin(self, flow_name: str, run_id: str) -> bool:
        return (flow_name, str(run_id)) in self.spins

    def has_runs(self, flow_name: str) -> bool:
        return flow_name in self.flows_with_runs

    def untold_notes(self) -> list[str]:
        notes, self.degraded = list(self.degraded.values()), {}
        return notes

    async def aclose(self) -> None:
        return None


for _op in OPS:  # one method per op of the real bridge, each answering what was queued for it
    setattr(FakeBridge, _op, _answering(_op))


class RecordingBridge:
    """The real bridge, with every answer kept (in order) for saving."""

    def __init__(self, real):
        self._real = real
        self.recorded: list[tuple[str, Any]] = []

    def __getattr__(self, name: str):
        attribute = getattr(self._real, name)
        if name not in OPS:
            return attribute

        async def recorded(*args, **kwargs):
            answer = await attribute(*args, **kwargs)
            self.recorded.append((name, answer))
            return answer

        return recorded


def dump(recorded: list[tuple[str, Any]], root: Path) -> str:
    """Recorded answers as JSON, the project root written as <root> so they replay anywhere."""
    data = [[op, {"ran": asdict(answer)} if isinstance(answer, Ran) else answer] for op, answer in recorded]
    # Key order is kept: the order of a frame's locals is the order of the answer's values.
    return json.dumps(data, indent=1, default=str).replace(str(root), ROOT)


def load(text: str, root: Path) -> list[tuple[str, Any]]:
    """Saved answers, with <root> the replaying project's root."""
    out = []
    for op, answer in json.loads(text.replace(ROOT, str(root))):
        out.append((op, Ran(**answer["ran"]) if isinstance(answer, dict) and set(answer) == {"ran"} else answer))
    return out


LONG_TEXT = 20_000  # a log this long is cut where its length says, and lengths hold the machine's paths


_LOGS = {"stderr", "stdout", "stacktrace"}
_STORED = "stored_exception"  # Metaflow's record of the exception: its message is cut at a length too


def _without_long_texts(value):
    if isinstance(value, str):
        return "<long text>" if len(value) > LONG_TEXT else value
    if isinstance(value, list):
        return [_without_long_texts(v) for v in value]
    if isinstance(value, dict):
        # A task's logs and stored stack trace are cut to a length, so where the cut falls moves
        # with the length of the folder the flow ran in: compared as present, not as text
        return {k: ("<log>" if k in _LOGS and isinstance(v, str) else
                    {**v, "message": "<log>"} if k == _STORED and isinstance(v, dict) and "message" in v else
                    _without_long_texts(v)) for k, v in value.items()}
    return value


# Times, processes, the machine's memory; and the length of a message that carries paths or a stack
_VOLATILE = re.compile(r'"(elapsed_s|duration_s|started_at|pid|pid_start|created_at|memory_limit|message_chars)": '
                       r'[\d.eE+-]+')
_IDS = re.compile(r"(?<![\d.])\d{13,}(?![\d.])")
_STAMPS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+")


def essence(text: str) -> str:
    """A dump with what differs between two real spins of the same step taken out: ids, times,
    paths of the machine, and the job's raw output (its tail is cut by byte counts that vary)."""
    data = _without_long_texts(json.loads(text))
    for _, answer in data:
        if isinstance(answer, dict) and "ran" in answer:
            answer["ran"].pop("output", None)
    text = _VOLATILE.sub(r'"\1": 0', json.dumps(data, indent=1))
    text = _STAMPS.sub("<time>", _IDS.sub("<id>", text))
    text = re.sub(r"\(pid \d+\)", "(pid <n>)", text)
    text = re.sub(r"0x[0-9a-f]{6,}", "0x…", text)
    text = re.sub(r"/[^\s\"']*?/(?:site|dist)-packages/", "<site-packages>/", text)  # where the venv is
    text = re.sub(r"/[^\s\"']*?/lib/python3\.\d+/", "<stdlib>/", text)
    text = re.sub(r"/[^\s\"']*?/flowmcp/(?=bridge/|summarize/)", "<flowmcp>/", text)  # where the checkout is
    # flowmcp's own frames (a @timeout's stack dump shows the worker's): their lines move with any
    # edit; Metaflow's move between its releases (the support matrix runs the corpus on several)
    text = re.sub(r'((?:<flowmcp>|<site-packages>/metaflow)/[^\s"\\]+\.py\\?", line )\d+', r"\1<n>", text)
    text = re.sub(r'("file": "<site-packages>/metaflow/[^"]+",\n\s*"line": )\d+', r"\1<n>", text)
    # The warm worker's frames below a step process (a stack dump shows them) depend on whether a
    # spare or a fork ran the step: one marker stands for the run of them
    worker_frame = (r'File \\*"<flowmcp>/bridge/project/worker/\w+\.py\\*", line <n>, in \w+'
                    r'\\+n[ >]*(?:[^\\]|\\+(?!n))*\\+n[ >]*')  # the frame's line, its code line
    text = re.sub(f"(?:{worker_frame})+", "<the warm worker's frames> ", text)
    return re.sub(r"/\S*/bin/python[\d.]*", "<python>", text)
