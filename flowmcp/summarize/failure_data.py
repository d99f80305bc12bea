"""A failure as data: the frames of its traceback, the values on the failing line, the hints, the
chain — extracted by `failure_sources`, drawn by `failure_render`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .text import condense_message, cut_middle

MAX_MESSAGE_CHARS = 600  # of the exception message in the headline; the rest is cut in the middle
_COMPREHENSIONS = {"<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>", "<lambda>"}
_LIB_NAME = re.compile(r"(?:site|dist)-packages/(?P<pkg>[^/]+)/")


CALLED_FROM = "Called from "  # a helper's caller (summarize/chain.py): a trace need not repeat it

@dataclass
class Frame:
    file: str  # relative to the project root when inside it
    line: int | None
    func: str
    code: str = ""
    user: bool = False
    col: int | None = None
    end_col: int | None = None
    repeated: int = 1
    hidden: int = 0  # a placeholder for frames cut from the middle

    @property
    def library(self) -> str:
        m = _LIB_NAME.search(self.file.replace("\\", "/"))
        if m:
            return m.group("pkg").split(".")[0]
        if "/lib/python" in self.file or self.file.startswith("<frozen"):
            return "python"
        return Path(self.file).name


@dataclass
class Failure:
    exception_type: str
    message: str
    frames: list[Frame] = field(default_factory=list)
    message_chars: int = 0
    step: str | None = None
    task: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # locals and self.X on the failing line
    hints: list[str] = field(default_factory=list)  # did-you-mean and what to do next
    chain: list[str] = field(default_factory=list)  # headlines of the cause/context
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # warnings the step showed before it failed
    split: dict | None = None
    source: str = "capture"  # capture | metaflow | traceback | exit
    # what to fix: "step" (its code), "flow" (how the flow is defined or started), "metaflow" (nothing
    # of the user's), "retry" (nothing, probably: spin ran once a step that needed @retry in the run)
    origin: str = "step"
    fix_at: str | None = None  # where the edit goes when it is not the failing line (summarize/chain.py)

    @property
    def where(self) -> Frame | None:
        """The frame to point the agent at: the deepest user frame, else the deepest one.

        A comprehension on the same line as its caller is named by the caller (`in train`, not
        `in <listcomp>`): the step is what the agent knows and edits."""
        user = [f for f in self.frames if f.user and not f.hidden]
        while len(user) > 1 and user[-1].func in _COMPREHENSIONS and (user[-2].file, user[-2].line) == (
            user[-1].file, user[-1].line):
            user.pop()
        if user:
            return user[-1]
        real = [f for f in self.frames if not f.hidden]
        return real[-1] if real else None

    @property
    def shown_where(self) -> Frame | None:
        """The frame the answer points at; none when a flow-level error has no line of the user's:
        Metaflow's own line (its vendored click, its config code) is not where to look."""
        where = self.where
        if self.origin == "flow" and where is not None and not where.user:
            return None
        return where

    def shown_message(self) -> str:
        """The message as the answer shows it: a library's long advice cut to its first sentences,
        URLs dropped (`text.condense_message`), and never more than MAX_MESSAGE_CHARS."""
        condensed = condense_message(self.message, self.message_chars)
        if condensed != self.message:
            return cut_middle(condensed, MAX_MESSAGE_CHARS)
        return cut_middle(self.message, MAX_MESSAGE_CHARS, original_length=self.message_chars)

    def headline(self) -> str:
        where = self.shown_where
        message = self.shown_message()
        text = f"{self.exception_type}: {message}" if message else self.exception_type
        if where is not None and where.line:
            in_func = f" in {where.func}" if where.func else ""
            return f"{where.file}:{where.line}{in_func} — {text}"
        return text
