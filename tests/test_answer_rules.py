"""The pure rules behind issue 26's answers: splits named by value, a task's last attempt, a
join's inputs, which arrays are pictures, whose warnings a step shows."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from flowmcp.bridge.project import images
from flowmcp.summarize import attempts, failure, shown_warnings, splits

Frame = namedtuple("Frame", "step var num_splits index value")


def nested(*levels):
    """A split as the step hook records it, from (var, index, value) levels, outermost first."""
    return splits.from_frames([Frame(f"s{i}", var, 3, index, value) for i, (var, index, value) in enumerate(levels)])


def test_a_split_reads_as_its_index_and_input_value_and_nested_levels_name_their_variables():
    assert splits.label(nested(("letters", 2, "b"))) == "split 2, input='b'"
    assert splits.label(nested(("n", 0, "3"))) == "split 0, input=3"
    assert splits.label(nested(("rows", 1, "{'a': 1}"))) == "split 1, input={'a': 1}"
    deep = nested(("groups", 1, "y"), ("batches", 0, "1"), ("items", 1, "20"))
    assert splits.label(deep) == "split 1, input=20 (in groups='y' [1], batches=1 [0])"
    assert splits.argument(deep) == "1/0/1" and splits.argument(nested(("n", 2, "x"))) == 2


def test_metadata_and_the_foreach_stack_give_the_same_split():
    meta = {"foreach-stack": ["groups=y", "batches=1", "items=20"],
            "foreach-execution-path": "outer:1,middle:0,inner:1"}
    from_meta = splits.from_metadata(meta)
    from_stack = nested(("groups", 1, "y"), ("batches", 0, "1"), ("items", 1, "20"))
    assert splits.label(from_meta) == splits.label(from_stack)
    assert splits.from_metadata({}) is None


@pytest.mark.parametrize(("wanted", "found"), [
    ("b", ["t1"]), (1, ["t1"]), ("1", ["t1"]),  # by value, else by index
    ("2", ["t0"]),  # a value wins over an index: the split given 2 is split 0
    ("zz", []), (7, []),
])
def test_a_split_is_chosen_by_input_value_first_then_by_index(wanted, found):
    candidates = [(nested(("x", 0, "2")), "t0"), (nested(("x", 1, "b")), "t1"), (nested(("x", 2, "c")), "t2")]
    assert splits.choose(candidates, wanted) == found


def test_a_nested_split_is_chosen_per_level_values_before_indices():
    candidates = [(nested(("g", g, gv), ("b", b, bv)), f"{gv}/{bv}")
                  for g, gv in enumerate(["x", "y"]) for b, bv in enumerate(["1", "2"])]
    assert splits.choose(candidates, "y/1") == ["y/1"]  # values: not y's split with index 1
    assert splits.choose(candidates, "1/0") == ["y/1"]  # indices
    assert len(splits.choose(candidates, "1")) == 2  # the innermost value alone is ambiguous


def test_only_a_tasks_last_attempt_says_how_it_ended():
    records = [{"step": "train", "task_id": 2, "attempt": 0, "exception": {"type": "ValueError"}},
               {"step": "train", "task_id": 2, "attempt": 1},
               {"step": "score", "task_id": 3, "attempt": 0, "exception": {"type": "KeyError"}}]
    tasks = {t.step: t for t in attempts.by_task(records)}
    assert tasks["train"].retried == [records[0]] and attempts.exception_of(tasks["train"].last) is None
    assert attempts.exception_of(tasks["score"].last) == {"type": "KeyError"}
    assert attempts.exception_of({"exception": {"type": attempts.CATCH_FALLBACK}}) is None


JOIN = '''
from metaflow import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.base = 1
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = self.x + self.base
        self.next(self.end)

    @step
    def end(self):
        pass
'''
GRAPH = [{"name": "start", "type": "split", "inputs": [], "matching_join": "join"},
         {"name": "a", "type": "linear", "inputs": ["start"]}, {"name": "b", "type": "linear", "inputs": ["start"]},
         {"name": "join", "type": "join", "inputs": ["a", "b"]}, {"name": "end", "type": "end", "inputs": ["join"]}]


@pytest.mark.parametrize(("missing", "said"), [
    ("base", "Add `self.merge_artifacts(inputs, include=['base'])` before flow.py:22"),
    ("x", "x is set in a, so each input holds its own value. Read the one you need: `inputs.a.x`"),
])
def test_a_join_missing_an_upstream_artifact_gets_metaflows_join_rule(tmp_path, missing, said):
    flow = tmp_path / "flow.py"
    flow.write_text(JOIN)
    record = {"step": "join", "exception": {
        "type": "AttributeError", "message": f"Flow F has no attribute '{missing}'", "attr_name": missing,
        "frames": [{"file": str(flow), "line": 22, "func": "join", "code": "self.total = self.x + self.base",
                    "user": True}]}}
    summary = failure.from_capture(record, tmp_path, flow_file=flow, graph=GRAPH)
    assert any(said in hint for hint in summary.hints), summary.hints
    assert not any("predates" in hint or "run the flow" in hint for hint in summary.hints), summary.hints


@pytest.mark.parametrize(("shape", "dtype", "picture"), [
    ((3, 13), float, False),  # a coefficient matrix
    ((150, 4), float, False),  # a feature table
    ((1000, 20), float, False),  # a wide one: more than 20 times as tall as wide
    ((64, 64), float, True), ((48, 64, 3), np.uint8, True), ((32, 32, 4), np.uint8, True),
    ((64, 64, 5), np.uint8, False), ((64, 64), object, False), ((64, 64), complex, False),
    ((64, 64), "datetime64[s]", False),
])
def test_only_arrays_shaped_and_typed_like_images_are_pictures(shape, dtype, picture):
    assert (images.kind(np.zeros(shape, dtype=dtype)) is not None) is picture


def test_warnings_raised_inside_metaflow_are_not_the_steps():
    where = "/v/lib/python3.12/site-packages/metaflow/mflog/mflog.py:64"
    record = {"step": "train", "warnings": [
        {"category": "DeprecationWarning", "message": "datetime.datetime.utcnow() is deprecated", "where": where,
         "count": 3, "user": False},
        {"category": "UserWarning", "message": "mine", "where": "/p/flow.py:7", "count": 1, "user": True},
        # the user's own file in a folder that happens to be called metaflow is still the user's
        {"category": "UserWarning", "message": "theirs", "where": "/home/u/metaflow/flow.py:3", "count": 1,
         "user": True}]}
    lines = shown_warnings.lines([record], Path("/p"))
    assert not any("utcnow" in line for line in lines), lines
    assert any("mine" in line for line in lines) and any("theirs" in line for line in lines), lines
