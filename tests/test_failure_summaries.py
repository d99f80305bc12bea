"""Failure summaries from real exceptions captured in-process, and from printed tracebacks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from flowmcp.bridge import capture
from flowmcp.summarize import failure, failure_data, failure_render


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module



def _raise_in(root: Path, source: str, call: str = "main()", helper: str | None = None) -> dict:
    """Write `source` as root/user_code.py, run `call` in it, capture what it raises."""
    if helper is not None:
        (root / "helpers.py").write_text(helper)
    (root / "user_code.py").write_text(source)
    sys.path.insert(0, str(root))
    try:
        module = _load(f"user_code_{abs(hash(source))}", root / "user_code.py")
        eval(call, vars(module))
    except BaseException as ex:
        return capture.exception_record(ex, root=str(root))
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("helpers", None)
    raise AssertionError("the code did not raise")


def test_headline_is_user_file_line_function_type_and_message(tmp_path):
    record = _raise_in(tmp_path, "def main():\n    data = {'a': 1}\n    return data['b'] + 1\n")
    f = failure.from_capture({"exception": record}, tmp_path)
    text = failure.render(f)
    assert text.splitlines()[0] == "user_code.py:3 in main — KeyError: 'b'"
    assert "    return data['b'] + 1" in text
    assert "data = dict of 1" in text  # the local, summarized, not repr'd


def test_caret_marks_the_failing_expression(tmp_path):
    record = _raise_in(tmp_path, "def main():\n    x = None\n    return 1 + x.shape\n")
    lines = failure.render(failure.from_capture({"exception": record}, tmp_path)).splitlines()
    code, caret = lines[1], lines[2]
    assert code == "    return 1 + x.shape"
    assert caret.strip() == "^" * len("x.shape")
    assert caret.index("^") == code.index("x.shape")


def test_bug_in_a_helper_module_shows_helper_line_and_calling_line(tmp_path):
    helper = "def scale(values):\n    return [v / 0 for v in values]\n"
    source = "from helpers import scale\n\ndef main():\n    return scale([1, 2])\n"
    text = failure.render(failure.from_capture({"exception": _raise_in(tmp_path, source, helper=helper)}, tmp_path))
    assert text.startswith("helpers.py:2 in <listcomp> — ZeroDivisionError") or text.startswith(
        "helpers.py:2 in scale — ZeroDivisionError")
    assert "user_code.py:4 in main" in text


def test_recursion_is_folded_where_it_starts(tmp_path):
    source = "def down(n):\n    return down(n + 1)\n\ndef main():\n    return down(0)\n"
    record = _raise_in(tmp_path, source)
    text = failure.render(failure.from_capture({"exception": record}, tmp_path))
    assert text.startswith("user_code.py:2 in down — RecursionError")
    assert "repeated" in text and " times" in text
    assert len(text) < 800


def test_long_message_keeps_head_and_tail_with_a_count(tmp_path):
    source = "def main():\n    raise ValueError('start ' + 'x' * 200_000 + ' end')\n"
    record = _raise_in(tmp_path, source)
    text = failure.render(failure.from_capture({"exception": record}, tmp_path))
    assert "ValueError: start" in text and "end" in text
    assert "chars cut" in text
    assert len(text) <= failure_render.MAX_CHARS


def test_chained_exception_is_condensed_to_its_headline(tmp_path):
    source = (
        "def load():\n    return int('abc')\n\n"
        "def main():\n    try:\n        load()\n    except ValueError as ex:\n"
        "        raise RuntimeError('could not load the data') from ex\n"
    )
    text = failure.render(failure.from_capture({"exception": _raise_in(tmp_path, source)}, tmp_path))
    assert text.startswith("user_code.py:8 in main — RuntimeError: could not load the data")
    assert "caused by user_code.py:2 in load — ValueError: invalid literal for int()" in text


def test_attribute_typo_on_self_suggests_artifacts_and_where_it_is_set(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text(
        "class F:\n    def start(self):\n        self.model = 1\n        self.features = 2\n"
        "    def train(self):\n        return self.modle + 1\n"
    )
    record = {
        "type": "AttributeError", "message": "Flow F has no attribute 'modle'", "attr_name": "modle",
        "frames": [{"file": str(flow), "line": 6, "func": "train", "code": "return self.modle + 1", "user": True}],
    }
    f = failure.from_capture({"exception": record, "available": ["features", "model"], "step": "train"}, tmp_path,
                             flow_file=flow)
    text = failure.render(f)
    assert "Did you mean self.model?" in text
    assert "Artifacts available here: features, model." in text
    # The name set in an upstream step is only reported for names the parent lacks:
    record["attr_name"] = record["message"] = "predictions"
    record["frames"][0]["code"] = "return self.predictions"
    flow.write_text(flow.read_text() + "    def score(self):\n        self.predictions = 3\n")
    f = failure.from_capture({"exception": record, "available": ["model"], "step": "train"}, tmp_path, flow_file=flow)
    assert "predictions is set in score, flow.py:8" in failure.render(f)


def test_printed_traceback_is_parsed_when_nothing_better_exists(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text("x = 1\n\n\ny = x * 2 / 0\n")
    # As Metaflow's task log prints it: `*` characters stripped, frames of its own first.
    printed = (
        "<flow F step score> failed:\n    Internal error\nTraceback (most recent call last):\n"
        '  File "/venv/lib/python3.11/site-packages/metaflow/cli.py", line 739, in main\n'
        '    start(auto_envvar_prefix="METAFLOW", obj=state)\n'
        f'  File "{flow}", line 4, in score\n    y = x  2 / 0\n'
        "ZeroDivisionError: division by zero\n\nTask failed.\n"
    )
    f = failure.from_traceback_text(printed, tmp_path)
    text = failure.render(f)
    assert text.startswith("flow.py:4 in score — ZeroDivisionError: division by zero")
    assert "y = x * 2 / 0" in text  # read from the file, not the mangled log
    assert "cli.py" not in text and "Internal error" not in text


def test_syntax_error_points_at_the_line_with_a_caret(tmp_path):
    bad = tmp_path / "flow.py"
    bad.write_text("def f(:\n    pass\n")
    try:
        compile(bad.read_text(), str(bad), "exec")
    except SyntaxError as ex:
        record = capture.exception_record(ex, root=str(tmp_path))
    text = failure.render(failure.from_capture({"exception": record}, tmp_path))
    assert text.startswith("flow.py:1 in <module> — SyntaxError")
    assert "def f(:" in text and "^" in text


def test_step_killed_by_a_signal_says_which():
    f = failure.from_exit("train", "Step train (task-id 3) failed: Task failed with return code -11")
    assert failure.render(f).splitlines()[0] == "Killed: the step process was killed by SIGSEGV (11)"
    assert "crash in compiled code" in failure.render(f)


def test_render_never_exceeds_its_budget(tmp_path):
    record = _raise_in(tmp_path, "def main():\n    raise KeyError('k' * 10_000)\n")
    assert len(failure.render(failure.from_capture({"exception": record}, tmp_path), budget=500)) <= 500


@pytest.mark.parametrize("size", [10, 300, 1000, 100_000])
def test_cut_middle_counts_exactly_what_it_cut(size):
    text = "a" * size
    out = failure.cut_middle(text, 300)
    assert len(out) <= 300
    if size <= 300:
        assert out == text
        return
    head, marker, tail = out.split(" … ")
    cut = int(marker.removesuffix(" chars cut").replace(",", ""))
    assert len(head) + cut + len(tail) == size


def test_the_spin_client_hint_needs_the_users_code_to_call_the_client():
    from flowmcp.summarize.hints import spin_context

    client = failure_data.Frame("/venv/site-packages/metaflow/client/filecache.py", 275, "create_file")
    step = failure_data.Frame("flow.py", 12, "train", user=True)
    for frames, hinted in (([step, client], True), ([client], False)):
        # Metaflow reading the parent's artifacts through its Client is not the user's Client call.
        summary = failure_data.Failure("FileNotFoundError", "No such file or directory", frames=frames)
        spin_context(summary, step_decorators=[])
        assert any("sees only spin runs" in h for h in summary.hints) is hinted, summary.hints
