"""The broken-flow corpus: every case's failure answer carries its facts, fits the budget, and
matches the golden answer a person reviewed (tests/corpus/<case>/expected.txt). A spin case is
spun broken in the warm worker; a case whose case.json says `"paths": ["warm", "cold"]` is spun
again in a new interpreter and must answer the same. Those are the cases where the two paths fail
differently underneath (signals, memory, recursion, exits, warnings, imports, helper modules,
@catch) and one of each kind of answer (a did-you-mean, data facts, a foreach split, a join, a
nested lookup). The capture and the answer are the same code on both paths; what differs is the
process around them, which those cases exercise (and each case's answer is replayed in the fast
tier from its record). A run case (`"tool": "run"`) runs the broken flow.

A new or changed answer is never accepted blindly: `python bench/summaries.py --golden CASE`
prints it for review; `--write-golden` saves it, once you have read it. Each case also keeps the
record the bridge answered with (record.json, `--write-record`): tests/test_corpus_replay.py
renders it in milliseconds, and this test checks that a real spin still answers the same.
"""

from __future__ import annotations

import pytest

from .corpus_cases import CASES, CORPUS, answer_summary, expects_failure, normalise, spec, spin_broken_case
from .fakes import essence

ANSWER_BUDGET = 1500  # the whole answer, status and next step included


@pytest.mark.parametrize("name", CASES)
def test_corpus_answer_has_its_facts_matches_golden_and_is_the_same_warm_or_cold(name, tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "tester")
    both_paths = "cold" in spec(name).get("paths", ["warm"])
    text, data, is_error, record = spin_broken_case(name, tmp_path, both_paths=both_paths)
    assert is_error == expects_failure(spec(name)), text
    missing = [fact for fact in spec(name)["facts"] if fact not in text]
    assert not missing, f"{name}: answer lacks {missing}:\n{text}"
    assert len(text) <= ANSWER_BUDGET
    summary = answer_summary(data, text)
    if is_error:
        assert text.startswith(summary.splitlines()[0])  # the headline leads the answer
    golden = CORPUS / name / "expected.txt"
    assert golden.exists(), f"{name}: no reviewed golden answer; see this module's docstring"
    assert normalise(summary) == golden.read_text().rstrip("\n")
    saved = CORPUS / name / "record.json"
    assert saved.exists(), f"{name}: no saved record for the fast tier; see this module's docstring"
    assert essence(record) == essence(saved.read_text().rstrip("\n")), f"{name}: a real spin's record differs"
