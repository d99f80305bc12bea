"""Metaflow's rules and the helper chain in failure answers (summarize/rules.py, summarize/chain.py):
pure functions over a failure, the flow's graph and the helper's source. The corpus cases
(tests/corpus/param_*, helper_*, foreach_input_in_join, ...) check them end to end."""

from __future__ import annotations

from pathlib import Path

from flowmcp import models
from flowmcp.summarize import chain, rules
from flowmcp.summarize.failure_data import Failure, Frame
from flowmcp.tools.spin import next_after_failure

GRAPH = [
    {"name": "start", "type": "split-static", "inputs": [], "next": ["a", "b"], "foreach": None},
    {"name": "a", "type": "linear", "inputs": ["start"], "next": ["join"], "foreach": None},
    {"name": "b", "type": "linear", "inputs": ["start"], "next": ["join"], "foreach": None},
    {"name": "join", "type": "join", "inputs": ["a", "b"], "next": ["end"], "foreach": None},
    {"name": "end", "type": "end", "inputs": ["join"], "next": [], "foreach": None},
]


def test_a_parameter_of_another_type_than_its_default_says_both():
    text = rules._parameter_text({"value": "'5'", "type": "str"}, {"type": "str", "default": 10})
    assert text == "'5' (str; Parameter default 10 is int)"


def test_parameters_the_failing_line_reads_lead_the_values_and_the_str_rule_names_the_fix():
    failure = Failure("TypeError", "'str' object cannot be interpreted as an integer",
                      frames=[Frame("flow.py", 12, "start", "for e in range(self.epochs):", user=True)],
                      values={"e": "int 0"})
    record = {"parameters": {"epochs": {"value": "'5'", "type": "str"}, "lr": {"value": "0.1", "type": "float"}}}
    declared = [{"name": "epochs", "type": "str", "default": "3"}, {"name": "lr", "type": "float", "default": 0.1}]
    rules.apply(failure, record, {"type": "TypeError", "message": failure.message}, parameters=declared)
    assert list(failure.values) == ["self.epochs", "e"]  # lr is not read on the line
    assert failure.values["self.epochs"] == "'5' (str; Parameter default '3')"
    assert "type=int" in failure.hints[0]


def test_an_artifact_set_downstream_or_on_a_parallel_branch_is_told_by_the_graph():
    assert "parallel to b" in rules.not_upstream("x", [("a", 9)], "b", GRAPH, "flow.py")
    assert "runs after a" in rules.not_upstream("x", [("join", 20)], "a", GRAPH, "flow.py")
    assert rules.not_upstream("x", [("start", 3)], "b", GRAPH, "flow.py") is None  # upstream: another reason


def test_an_artifact_read_above_the_line_of_its_own_step_that_sets_it():
    assert "below this line" in rules.set_later("x", [("a", 14)], "a", 12, "flow.py")
    assert rules.set_later("x", [("a", 10)], "a", 12, "flow.py") is None


def test_self_input_outside_a_foreach_names_the_foreach_that_sets_it():
    graph = [{"name": "start", "foreach": "items", "next": ["each"], "matching_join": "gather", "inputs": []},
             {"name": "each", "inputs": ["start"]}, {"name": "gather", "type": "join", "inputs": ["each"]}]
    failure = Failure("TypeError", "'NoneType' object is not subscriptable", step="gather",
                      frames=[Frame("flow.py", 20, "gather", "v = self.input[0]", user=True)])
    rules.apply(failure, {}, {"type": "TypeError"}, graph=graph)
    assert "self.input is None in gather" in failure.hints[0] and "foreach over self.items" in failure.hints[0]
    inside = Failure("TypeError", "'NoneType' object is not subscriptable", step="each",
                     frames=[Frame("flow.py", 12, "each", "v = self.input[0]", user=True)])
    rules.apply(inside, {"split": {"index": 0}}, {"type": "TypeError"}, graph=graph)
    assert inside.hints == []  # in a foreach task self.input is set: not this rule


def test_the_helper_chain_points_at_the_data_when_the_helper_trips_on_what_it_was_given(tmp_path: Path):
    (tmp_path / "helpers.py").write_text("def totals(rows):\n    out = []\n    for r in rows:\n"
                                         "        out.append(r['price'])\n    return out\n")
    failure = Failure("KeyError", "'price'", step="total", frames=[
        Frame("flow.py", 14, "total", "self.t = totals(self.rows)", user=True),
        Frame("helpers.py", 4, "totals", "out.append(r['price'])", user=True)])
    chain.helper_chain(failure, tmp_path / "flow.py", tmp_path)
    assert failure.hints[0].startswith("Called from flow.py:14 in total: self.t = totals(self.rows)")
    assert "the line tripped on r, from the argument rows" in failure.hints[0]
    assert failure.fix_at == "what flow.py:14 in total passes to totals"
    answer = models.Failure(step="total", exception_type="KeyError", message="'price'", summary="",
                            fix_at=failure.fix_at)
    assert next_after_failure(answer, "total") == "fix what flow.py:14 in total passes to totals, and spin total again."


def test_the_helper_chain_points_at_the_helper_when_its_own_computation_fails(tmp_path: Path):
    (tmp_path / "helpers.py").write_text("def ratio(a):\n    zero = 0\n    return 1 / zero\n")
    failure = Failure("ZeroDivisionError", "division by zero", step="s", frames=[
        Frame("flow.py", 9, "s", "self.r = ratio(self.a)", user=True),
        Frame("helpers.py", 3, "ratio", "return 1 / zero", user=True)])
    chain.helper_chain(failure, tmp_path / "flow.py", tmp_path)
    assert failure.fix_at == "helpers.py:3 in ratio (the helper)"


def test_a_parameter_is_found_by_the_attribute_that_holds_it_and_a_local_copy_counts(tmp_path: Path):
    (tmp_path / "flow.py").write_text('class F(FlowSpec):\n    lr = Parameter("learning-rate", default="0.1")\n')
    failure = Failure("TypeError", "can't multiply sequence by non-int of type 'float'",
                      frames=[Frame("flow.py", 9, "start", "step = rate * 0.5", user=True)])
    record = {"parameters": {"lr": {"value": "'0.01'", "type": "str"}}}
    rules.apply(failure, record, {"type": "TypeError", "message": failure.message}, flow_file=tmp_path / "flow.py",
                parameters=[{"name": "learning-rate", "type": "str", "default": "0.1"}])
    assert failure.values["self.lr"] == "'0.01' (str; Parameter default '0.1')"  # read earlier, into `rate`
    assert failure.hints[0].startswith("Parameter lr is a str") and "type=float" in failure.hints[0]
