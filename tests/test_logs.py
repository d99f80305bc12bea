import re
import tracemalloc

import pytest

from flowmcp.summarize.logs import (
    MAX_LINE_CHARS,
    TailBuffer,
    clean_lines,
    cut_middle,
    drop_noise,
    fold_repeats,
    head_tail,
    parse_prefix,
    strip_prefix,
    tail_text,
)

SPIN_OUTPUT = """\
2026-11-26 20:28:12.292 To make spin even faster, provide complete pathspec TypoFlow/1795724888984766/score/6
2026-11-26 20:28:12.312 [1795724892294157/score/0 (pid 2343)] Task is starting.
2026-11-26 20:28:12.498 [1795724892294157/score/0 (pid 2343)] scoring
2026-11-26 20:28:12.548 [1795724892294157/score/0 (pid 2343)] Task failed.
2026-11-26 20:28:10.445 Done!
"""

# `python typo_flow.py run`, metaflow 2.19.39: stderr then stdout, traceback shortened.
RUN_OUTPUT = """\
Metaflow 2.19.39 executing TypoFlow for user:dev
Validating your flow...
    The graph looks good!
Running pylint...
    Pylint not found, so extra checks are disabled.
2026-11-26 20:30:49.861 Workflow starting (run-id 1795725049859542):
2026-11-26 20:30:49.876 [1795725049859542/start/1 (pid 3450)] Task is starting.
2026-11-26 20:30:50.100 [1795725049859542/start/1 (pid 3450)] Task finished successfully.
2026-11-26 20:30:50.103 [1795725049859542/score/2 (pid 3453)] Task is starting.
2026-11-26 20:30:50.289 [1795725049859542/score/2 (pid 3453)] scoring
2026-11-26 20:30:50.290 [1795725049859542/score/2 (pid 3453)] <flow TypoFlow step score> failed:
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] File "/tmp/logsample/typo_flow.py", line 14, in score
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] print(self.modle)
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] AttributeError: Flow TypoFlow has no attribute 'modle'
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] 
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] warming cache
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] warming cache
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] warming cache
2026-11-26 20:30:50.335 [1795725049859542/score/2 (pid 3453)] Task failed.
2026-11-26 20:30:50.335 Workflow failed.
2026-11-26 20:30:50.336 Terminating 0 active tasks...
2026-11-26 20:30:50.336 Flushing logs...
"""

# .metaflow/TypoFlow/1795725049859542/score/2/0.runtime_stderr.log from the same run.
STORED_STDERR = """\
[MFLOG|0|2026-11-26T20:30:50.290673Z|runtime|2225be03-9f28-4f78-b8fb-486c426cbc29]<flow TypoFlow step score> failed:
[MFLOG|0|2026-11-26T20:30:50.294208Z|runtime|0b87c936-ac67-4cdd-a248-082138523ef8]    Internal error
[MFLOG|0|2026-11-26T20:30:50.295924Z|runtime|0524e663-0992-4d20-ada3-5fc9072026f4]Traceback (most recent call last):
[MFLOG|0|2026-11-26T20:30:50.295993Z|task|db39fedd-06c3-4cfa-8ca1-b31486fec176]  File "/tmp/logsample/typo_flow.py", line 14, in score
"""

# What metaflow's vendored click writes for one runtime line when colours are on.
COLOURED_LINE = (
    "\x1b[35m2026-11-26 20:28:12.548 \x1b[0m"
    "\x1b[32m[1795724892294157/score/0 (pid 2343)] \x1b[0m"
    "\x1b[31m\x1b[1mTask failed.\x1b[0m\x1b[K"
)

TASK_PREFIX = "2026-11-26 20:28:12.312 [1795724892294157/score/0 (pid 2343)] "


def test_spin_output_tail_keeps_only_what_the_task_said():
    assert tail_text(SPIN_OUTPUT) == "scoring\nTask failed."


def test_noise_is_kept_when_not_asked_to_drop_it():
    assert tail_text(SPIN_OUTPUT, drop_metaflow_noise=False) == (
        "To make spin even faster, provide complete pathspec "
        "TypoFlow/1795724888984766/score/6\n"
        "Task is starting.\n"
        "scoring\n"
        "Task failed.\n"
        "Done!"
    )


def test_failed_run_output_reads_as_the_user_step_said_it():
    assert tail_text(RUN_OUTPUT) == (
        "scoring\n"
        "<flow TypoFlow step score> failed:\n"
        'File "/tmp/logsample/typo_flow.py", line 14, in score\n'
        "print(self.modle)\n"
        "AttributeError: Flow TypoFlow has no attribute 'modle'\n"
        "\n"
        "warming cache\n"
        "… ×3 in a row\n"
        "Task failed.\n"
        "Workflow failed.\n"
        "Terminating 0 active tasks...\n"
        "Flushing logs..."
    )


def test_parse_prefix_returns_the_task_pathspec_and_message():
    assert parse_prefix(SPIN_OUTPUT.splitlines()[2]) == (
        "1795724892294157/score/0",
        "scoring",
    )
    assert parse_prefix("2026-11-26 20:28:10.445 Done!") == (None, "Done!")
    assert parse_prefix("2026-11-26 20:30:50.335 [1/score/2 (pid 3453)] ") == (
        "1/score/2",
        "",
    )


def test_parse_prefix_reads_task_prefixes_without_pid():
    line = "2026-11-26 20:28:12.312 [1795724892294157/score/0] Task is starting."
    assert parse_prefix(line) == ("1795724892294157/score/0", "Task is starting.")


def test_coloured_prefixes_are_recognised_and_colours_removed():
    assert parse_prefix(COLOURED_LINE) == ("1795724892294157/score/0", "Task failed.")


def test_stored_task_logs_lose_their_mflog_prefix_but_keep_indentation():
    assert clean_lines(STORED_STDERR) == [
        "<flow TypoFlow step score> failed:",
        "    Internal error",
        "Traceback (most recent call last):",
        '  File "/tmp/logsample/typo_flow.py", line 14, in score',
    ]


def test_unpersisted_mflog_lines_lose_their_prefix_too():
    line = "[![MFLOG|0|2026-11-26T20:28:12.499763Z|task|32bea88e-99d1]Task is starting."
    assert strip_prefix(line) == "Task is starting."


def test_user_lines_that_only_look_like_prefixes_are_left_alone():
    for line in (
        "[a/b/c] bracketed by the user",
        "2026-11-26 was a good day",
        "[MFLOG] is a word the user printed",
    ):
        assert parse_prefix(line) == (None, line)


def test_progress_bar_rewrites_collapse_to_final_state():
    assert clean_lines("  10%|#   |\r  20%|##  |\r 100%|####|") == [" 100%|####|"]
    assert clean_lines(TASK_PREFIX + " 50%|##  |\r100%|####|\r\n") == ["100%|####|"]


def test_windows_line_endings_and_cleared_lines_keep_their_text():
    assert clean_lines("first\r\nsecond\r\n") == ["first", "second"]
    # tqdm(leave=False) blanks the bar at the end; the last real drawing is kept.
    assert clean_lines("100%|####|\r          \r") == ["100%|####|"]


def test_trailing_whitespace_and_control_characters_are_dropped():
    assert clean_lines("done   \t\nbell\x07 ring\x1b]8;;https://x.org\x07link\n\n") == [
        "done",
        "bell ringlink",
        "",
    ]


def test_drop_noise_removes_metaflow_chatter_but_not_look_alike_user_lines():
    lines = [
        "Metaflow 2.19.39 executing TypoFlow for user:dev",
        "    The graph looks good!",
        "Workflow starting (run-id 1795725049859542), see it in the UI at http://ui/x",
        "Done! See the run in the UI at http://ui/TypoFlow/1795725049859542",
        "Done! 3 files written",
        "Task is starting. Loading data",
        "Task is starting (retry).",
        "Metaflow 2.19.39 executing TypoFlow for user:dev but then it crashed",
    ]
    assert drop_noise(lines) == lines[4:]


def test_runs_of_identical_lines_fold_to_one_line_and_a_count():
    lines = ["a", "b", "b", "b", "c", "c", "", "", "", "d"] + ["e"] * 3_000
    assert fold_repeats(lines) == [
        "a",
        "b",
        "… ×3 in a row",
        "c",
        "c",
        "",
        "d",
        "e",
        "… ×3,000 in a row",
    ]


def test_head_tail_counts_the_lines_it_leaves_out():
    lines = [f"line {i}" for i in range(2_946)]
    assert head_tail(lines, 2, 3) == [
        "line 0",
        "line 1",
        "… 2,941 lines omitted …",
        "line 2943",
        "line 2944",
        "line 2945",
    ]
    assert head_tail(lines[:4], 0, 3) == ["… 1 line omitted …", *lines[1:4]]
    assert head_tail(lines[:4], 1, 0) == ["line 0", "… 3 lines omitted …"]


def test_head_tail_returns_short_lists_whole():
    assert head_tail(["a", "b", "c"], 2, 1) == ["a", "b", "c"]


def test_head_tail_rejects_negative_counts():
    with pytest.raises(ValueError, match="head=-1"):
        head_tail(["a", "b"], -1, 1)


def test_cut_middle_keeps_both_ends_and_counts_the_cut():
    assert cut_middle("abcdefghijklmnopqrstuvwxyz", 23) == "ab … 21 chars cut … xyz"


def test_cut_middle_count_matches_the_characters_removed_from_a_big_text():
    text = "".join(f"{i:07d}," for i in range(21_535))[:172_279]
    out = cut_middle(text, 1_000)
    head, count, tail = re.fullmatch(r"(.*) … ([\d,]+) chars cut … (.*)", out).groups()
    assert count == "171,302"
    assert len(head) + int(count.replace(",", "")) + len(tail) == len(text)
    assert text.startswith(head)
    assert text.endswith(tail)
    assert len(out) == 1_000


def test_cut_middle_leaves_text_that_fits_alone():
    assert cut_middle("short", 5) == "short"


def test_tail_text_counts_the_earlier_lines_it_leaves_out():
    text = "".join(f"{TASK_PREFIX}epoch {i}\n" for i in range(100))
    assert tail_text(text, max_lines=3) == (
        "… 97 lines omitted …\nepoch 97\nepoch 98\nepoch 99"
    )


def test_tail_text_stays_within_its_char_budget():
    text = "".join(f"{i:02d} " + "x" * 46 + "\n" for i in range(10))  # 49 chars each
    out = tail_text(text, max_chars=200)
    assert out == "… 7 lines omitted …\n" + "\n".join(text.splitlines()[7:])
    assert len(out) <= 200


def test_tail_text_cuts_long_lines_in_the_middle():
    line = "ValueError: " + "9" * 5_000 + " is not a valid row count"
    out = tail_text(TASK_PREFIX + line)
    assert out.startswith("ValueError: 999")
    assert out.endswith(" is not a valid row count")
    # 5,037 chars; the 21-char marker leaves 479 of the 500 to keep, so 4,558 go.
    assert " … 4,558 chars cut … " in out
    assert len(out) == MAX_LINE_CHARS


def test_tail_text_shows_both_ends_of_a_last_line_longer_than_the_budget():
    out = tail_text("first\n" + "y" * 300, max_chars=100)
    assert out.startswith("… 1 line omitted …\nyyy")
    assert out.endswith("yyy")
    assert "chars cut" in out
    assert len(out) <= 100


def _three_thousand_line_log() -> tuple[str, list[str]]:
    """A failing run's raw output, and its lines as they should read once cleaned."""
    cleaned = ["loading 3 shards from s3://bucket/features/", "warming cache"]
    raw = [
        "2026-11-26 20:28:12.292 Workflow starting (run-id 1795724892294157):",
        TASK_PREFIX + "Task is starting.",
        TASK_PREFIX + cleaned[0],
    ]
    raw += [TASK_PREFIX + "warming cache"] * 2_000
    cleaned.append("… ×2,000 in a row")
    batches = [f"batch {i:4d} loss={1 / (i + 1):.6f} rows=4096" for i in range(994)]
    raw += [TASK_PREFIX + batch for batch in batches]
    cleaned += batches
    ending = [
        "AttributeError: 'TypoFlow' object has no attribute 'modle'",
        "Task failed.",
    ]
    raw += [TASK_PREFIX + line for line in ending]
    raw.append("2026-11-26 20:28:13.001 Workflow failed.")
    cleaned += [*ending, "Workflow failed."]
    assert len(raw) == 3_000
    return "\n".join(raw) + "\n", cleaned


def test_three_thousand_line_log_tail_ends_with_the_error():
    text, cleaned = _three_thousand_line_log()
    assert tail_text(text) == "\n".join(["… 960 lines omitted …", *cleaned[-40:]])


def _feed_in_chunks(buffer: TailBuffer, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        buffer.feed(data[start : start + size])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_tail_buffer_rejoins_lines_and_characters_split_across_chunks(size):
    data = (f"café ☕ naïve\n{TASK_PREFIX}résumé → 🚀 done\nпоследняя строка").encode()
    buffer = TailBuffer()
    _feed_in_chunks(buffer, data, size)
    assert buffer.lines() == ["café ☕ naïve", "résumé → 🚀 done", "последняя строка"]
    assert buffer.text() == "café ☕ naïve\nrésumé → 🚀 done\nпоследняя строка"
    assert buffer.total_bytes == len(data)
    assert buffer.total_lines == 3


def test_tail_buffer_shows_a_half_received_character_until_it_completes():
    buffer = TailBuffer()
    buffer.feed(b"caf\xc3")
    assert buffer.lines() == ["caf\ufffd"]
    buffer.feed(b"\xa9\n")
    assert buffer.lines() == ["café"]


def test_tail_buffer_replaces_invalid_utf8():
    buffer = TailBuffer()
    buffer.feed(b"bad \xff\xfe bytes\n")
    assert buffer.lines() == ["bad \ufffd\ufffd bytes"]


def test_tail_buffer_keeps_only_the_last_lines_but_counts_them_all():
    buffer = TailBuffer(max_lines=3)
    buffer.feed(b"".join(b"line %d\n" % i for i in range(10)) + b"partial")
    assert buffer.lines() == ["line 7", "line 8", "line 9", "partial"]
    assert buffer.total_lines == 11
    assert buffer.total_bytes == 10 * 7 + 7


@pytest.mark.parametrize("size", [1, 3, 1_000])
def test_tail_buffer_cuts_overlong_lines_keeping_both_ends(size):
    buffer = TailBuffer(max_line_bytes=10)
    _feed_in_chunks(buffer, b"x\n0123456789abcdefghij\nunfinished-line", size)
    assert buffer.lines() == [
        "x",
        "01234 … 10 bytes cut … fghij",
        "unfin … 5 bytes cut … -line",
    ]
    assert buffer.total_lines == 3


def _peak_bytes_while(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tail_buffer_memory_stays_bounded_for_100_mb_of_lines():
    line = TASK_PREFIX.encode() + b"batch 17 loss=0.012345 rows=4096 \xe2\x9c\x93\n"
    chunk = (line * (65_536 // len(line) + 1))[:65_536]  # lines split across chunks
    buffer = TailBuffer()

    def feed_100_mb():
        for _ in range(1_600):
            buffer.feed(chunk)

    peak = _peak_bytes_while(feed_100_mb)
    assert peak < 1_000_000, f"peak {peak:,} bytes while reading 100 MB"
    assert buffer.total_bytes == 1_600 * 65_536
    assert buffer.total_lines == 1_600 * chunk.count(b"\n") + 1
    assert len(buffer.lines()) == 201
    assert buffer.lines()[-2] == "batch 17 loss=0.012345 rows=4096 ✓"


def test_tail_buffer_memory_stays_bounded_for_100_mb_without_a_newline():
    redraw = b" 42%|####      | 42/100 [00:01<00:02]\r"
    chunk = redraw * (65_536 // len(redraw))
    buffer = TailBuffer()

    def feed_100_mb():
        for _ in range(1_600):
            buffer.feed(chunk)
        buffer.feed(b"100%|##########| 100/100 [00:03<00:00]\n")

    peak = _peak_bytes_while(feed_100_mb)
    assert peak < 1_000_000, f"peak {peak:,} bytes while reading 100 MB"
    assert buffer.lines() == ["100%|##########| 100/100 [00:03<00:00]"]
    assert buffer.total_lines == 1
    assert buffer.total_bytes > 100_000_000


def test_tail_buffer_reports_every_completed_line_once_across_chunks():
    seen = []
    buffer = TailBuffer(max_lines=2, on_line=seen.append)
    for chunk in (b"alp", b"ha\nbe", b"ta\ngamma\ndel", b"ta"):
        buffer.feed(chunk)
    assert seen == ["alpha", "beta", "gamma"]  # "delta" is not finished yet
    assert buffer.lines() == ["beta", "gamma", "delta"]
