"""Clean Metaflow CLI output and task logs into a few lines an agent can read.

Pure functions (and one bounded buffer); every cut leaves a marker saying what was cut.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from itertools import groupby

from .text import cut_middle as text_cut_middle

TAIL_LINES = 40
TAIL_CHARS = 4_000
MAX_LINE_CHARS = 500
# Two identical lines are shorter than one line plus a marker, so fold from three.
MIN_FOLDED_RUN = 3
BUFFER_LINES = 200
BUFFER_LINE_BYTES = 16_384

# Whole messages (prefixes stripped) that Metaflow prints on every run and that tell an
# agent nothing. Exact on purpose: a user's own line must never match by accident.
METAFLOW_NOISE = tuple(
    re.compile(pattern)
    for pattern in (
        r"Metaflow \S+ executing \S+ for \S+",
        r"Validating your flow\.\.\.",
        r"The graph looks good!",
        r"Running pylint\.\.\.",
        r"Pylint is happy!",
        r"Pylint not found, so extra checks are disabled\.",
        r"Workflow starting \(run-id [^()\s]+\)(?::|, see it in the UI at \S+)",
        r"To make spin even faster, provide complete pathspec .+",
        r"Task is starting\.",
        r"Task finished successfully\.",
        r"Done!(?: See the run in the UI at \S+)?",
    )
)

# CSI (colours, erase-to-end-of-line), OSC (hyperlinks, titles) and two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-_])")
# Left over after escapes and \r are handled; tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# metaflow/mflog/mflog.py: "[MFLOG|version|utc time|source|id]", "[!" if not persisted.
_MFLOG_PREFIX = re.compile(r"(?:\[!)?\[MFLOG\|\d+\|[^|]*\|[^|]*\|[^\]]*\]")
# metaflow/cli.py logger() and runtime.py Task.log(). The task part is trusted only
# after the timestamp, so a user's own line starting with "[a/b/c]" is left alone.
_CLI_PREFIX = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}(?: |$)"
    r"(?:\[(?P<task>[^\s/\[\]]+/[^\s/\[\]]+/[^\s/\[\]]+)(?: \(pid \d+\))?\](?: |$))?"
)


def parse_prefix(line: str) -> tuple[str | None, str]:
    """Split a log line into (task pathspec or None, message).

    Strips ANSI codes (Metaflow colours its prefixes), an MFLOG prefix, the CLI
    timestamp and the `[run/step/task (pid N)]` that follows it.
    """
    line = _ANSI.sub("", line)
    if match := _MFLOG_PREFIX.match(line):
        line = line[match.end() :]
    if match := _CLI_PREFIX.match(line):
        return match["task"], line[match.end() :]
    return None, line


def strip_prefix(line: str) -> str:
    """The message of a log line: no ANSI codes, timestamp, task or MFLOG prefix."""
    return parse_prefix(line)[1]


def _clean_line(line: str) -> str:
    message = strip_prefix(line)
    if "\r" in message:
        # A progress bar redraws itself after each \r: keep the last drawing, as a
        # terminal shows. Blank ones only clear the line (or end a \r\n), so skip them.
        drawings = message.split("\r")
        message = next((part for part in reversed(drawings) if part.strip()), "")
    return _CONTROL.sub("", message).rstrip()


def clean_lines(text: str) -> list[str]:
    """Lines of `text` without prefixes, ANSI codes, \\r rewrites or trailing spaces."""
    # Not splitlines(): it would split on the \r that progress bars rewrite with.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [_clean_line(line) for line in lines]


def drop_noise(lines: list[str]) -> list[str]:
    """Remove the lines Metaflow prints on every run (see METAFLOW_NOISE)."""
    return [
        line
        for line in lines
        if not any(pattern.fullmatch(line.strip()) for pattern in METAFLOW_NOISE)
    ]


def fold_repeats(lines: list[str]) -> list[str]:
    """Show a run of identical lines once, then '… ×N in a row' (N counts them all).

    Runs of blank lines become one blank line.
    """
    folded: list[str] = []
    for line, run in groupby(lines):
        count = sum(1 for _ in run)
        if not line.strip():
            folded.append(line)
        elif count >= MIN_FOLDED_RUN:
            folded += [line, f"… ×{count:,} in a row"]
        else:
            folded += [line] * count
    return folded


def _omitted(count: int) -> str:
    return f"… {count:,} line{'' if count == 1 else 's'} omitted …"


def head_tail(lines: list[str], head: int, tail: int) -> list[str]:
    """The first `head` and last `tail` lines, with a count of the lines between."""
    if head < 0 or tail < 0:
        raise ValueError(f"head and tail must be >= 0, got head={head}, tail={tail}")
    omitted = len(lines) - head - tail
    if omitted <= 0:
        return list(lines)
    return [*lines[:head], _omitted(omitted), *lines[len(lines) - tail :]]




def cut_middle(text: str, max_chars: int) -> str:
    """`text` with its middle cut to fit `max_chars`, as much kept of its end as of its start (a
    log's last lines matter as much as its first)."""
    return text_cut_middle(text, max_chars, head=(1, 2))


def _prepare(text: str, drop_metaflow_noise: bool) -> list[str]:
    lines = clean_lines(text)
    if drop_metaflow_noise:
        lines = drop_noise(lines)
    lines = [cut_middle(line, MAX_LINE_CHARS) for line in fold_repeats(lines)]
    while lines and not lines[-1].strip():
        lines.pop()
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    return lines[start:]


def _count_fitting(lines: list[str], max_lines: int, max_chars: int) -> int:
    """How many of `lines`, from the first, fit; each costs its length + a newline."""
    count = used = 0
    for line in lines[:max_lines]:
        used += len(line) + 1
        if used > max_chars:
            break
        count += 1
    return count


def _fit(lines: list[str], max_lines: int, max_chars: int, head_share: float) -> str:
    if len(lines) <= max_lines and len("\n".join(lines)) <= max_chars:
        return "\n".join(lines)
    # Reserve room for the widest marker, then share the rest between head and tail.
    room = max_chars - len(_omitted(len(lines)))
    head = _count_fitting(lines, round(max_lines * head_share), round(room * head_share))
    room -= sum(len(line) + 1 for line in lines[:head])
    rest = lines[head:]
    tail = _count_fitting(rest[::-1], max_lines - head, room)
    if tail == 0 and rest and max_lines > head and room > 1:
        # The last line alone is too long: its two ends say more than a bare marker.
        last = cut_middle(rest[-1], room - 1)
        if len(last) < room:
            lines, tail = [*lines[:-1], last], 1
    return "\n".join(head_tail(lines, head, tail))


def tail_text(
    text: str,
    max_lines: int = TAIL_LINES,
    max_chars: int = TAIL_CHARS,
    drop_metaflow_noise: bool = True,
) -> str:
    """The end of a process's output, cleaned and folded, within the budget.

    Long lines are cut in the middle; earlier lines that do not fit are counted in a
    marker.
    """
    return _fit(_prepare(text, drop_metaflow_noise), max_lines, max_chars, head_share=0)




class TailBuffer:
    """The last lines of a byte stream of any size, in bounded memory.

    Feed it chunks as they arrive, split anywhere (even inside a UTF-8 character). It
    keeps the last `max_lines` complete lines plus the unfinished one, and running
    totals. A line longer than `max_line_bytes` keeps its two ends around a
    ' … N bytes cut … ' marker.
    """

    def __init__(
        self,
        max_lines: int = BUFFER_LINES,
        max_line_bytes: int = BUFFER_LINE_BYTES,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        if max_lines < 1 or max_line_bytes < 2:
            raise ValueError(
                f"need max_lines >= 1 and max_line_bytes >= 2, "
                f"got {max_lines} and {max_line_bytes}"
            )
        self.max_lines = max_lines
        self.max_line_bytes = max_line_bytes
        self.total_bytes = 0
        self._newlines = 0
        self._lines: deque[bytes] = deque(maxlen=max_lines)
        self._partial = bytearray()
        self._partial_cut = 0
        self.on_line = on_line  # called with every completed line, raw (prefixes kept)

    @property
    def total_lines(self) -> int:
        """Lines seen so far, counting an unfinished last line."""
        return self._newlines + bool(self._partial or self._partial_cut)

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of output, as read from the pipe."""
        self.total_bytes += len(chunk)
        # Splitting bytes at b"\n" is safe: UTF-8 never uses 0x0A inside a character.
        first, *others = chunk.split(b"\n")
        self._extend_partial(first)
        if not others:
            return
        *complete, rest = others
        self._newlines += 1 + len(complete)
        finished = self._bounded(bytes(self._partial), self._partial_cut)
        self._lines.append(finished)
        self._partial.clear()
        self._partial_cut = 0
        # The deque would drop all but the last max_lines anyway; don't copy the others.
        self._lines.extend(self._bounded(line) for line in complete[-self.max_lines :])
        if self.on_line is not None:
            self.on_line(finished.decode("utf-8", "replace"))
            for line in complete:
                self.on_line(self._bounded(line).decode("utf-8", "replace"))
        self._extend_partial(rest)

    def _extend_partial(self, data: bytes) -> None:
        self._partial += data
        over = len(self._partial) - self.max_line_bytes
        if over > 0:
            # Keep both ends: the start has the prefix, the end a progress bar's state.
            half = self.max_line_bytes // 2
            del self._partial[half : half + over]
            self._partial_cut += over

    def _bounded(self, line: bytes, cut: int = 0) -> bytes:
        """`line` within max_line_bytes, with a marker if it (or its past) was cut."""
        half = self.max_line_bytes // 2
        over = len(line) - self.max_line_bytes
        if over > 0:
            line, cut = line[:half] + line[half + over :], cut + over
        if not cut:
            return line
        return line[:half] + f" … {cut:,} bytes cut … ".encode() + line[half:]

    def lines(self) -> list[str]:
        """The kept lines, decoded (bad bytes become U+FFFD) and cleaned."""
        raw = list(self._lines)
        if self._partial or self._partial_cut:
            raw.append(self._bounded(bytes(self._partial), self._partial_cut))
        return [_clean_line(line.decode("utf-8", "replace")) for line in raw]

    def text(self) -> str:
        return "\n".join(self.lines())
