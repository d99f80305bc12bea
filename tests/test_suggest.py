"""Our did-you-mean agrees with the interpreter's own (summarize/suggest.py): on this Python,
every suggestion CPython prints for AttributeError and NameError is the one we compute."""

from __future__ import annotations

import contextlib
import io
import random
import re
import string
import sys
from pathlib import Path

import pytest

from flowmcp.summarize import suggest

_PRINTED = re.compile(r"Did you mean: '([^']+)'\?")


def interpreters_suggestion(ex: BaseException) -> str | None:
    """What this interpreter prints after the exception: 3.10+ print a suggestion when they have one."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        sys.__excepthook__(type(ex), ex, ex.__traceback__)
    found = _PRINTED.search(buffer.getvalue().splitlines()[-1])
    return found.group(1) if found else None


def _mistyped(name: str, rng: random.Random) -> str:
    """One to three random edits: a typo, a swapped case, a dropped or added letter."""
    chars = list(name)
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["swap", "case", "insert", "delete", "replace"])
        i = rng.randrange(len(chars))
        if op == "case":
            chars[i] = chars[i].swapcase()
        elif op == "insert":
            chars.insert(i, rng.choice(string.ascii_lowercase + "_"))
        elif op == "delete" and len(chars) > 1:
            del chars[i]
        elif op == "replace":
            chars[i] = rng.choice(string.ascii_lowercase)
        elif op == "swap" and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    wrong = "".join(chars)
    return wrong if wrong.isidentifier() else "x" + wrong


@pytest.mark.skipif(sys.version_info < (3, 10), reason="Python prints suggestions since 3.10")
def test_attribute_suggestions_match_the_interpreter_on_a_thousand_typos():
    rng = random.Random(7)
    vocabulary = ["predict_proba", "predict", "fit", "fit_transform", "transform", "score", "coef_",
                  "intercept_", "classes_", "n_features_in_", "get_params", "set_params", "feature_names_in_",
                  "decision_function", "predict_log_proba", "Alpha", "alpha", "alphas", "beta"]
    agreed = offered = 0
    for _ in range(1000):
        names = rng.sample(vocabulary, rng.randint(3, len(vocabulary)))
        holder = type("Holder", (), {n: 1 for n in names})()
        wrong = _mistyped(rng.choice(names), rng)
        if hasattr(holder, wrong):
            continue
        try:
            getattr(holder, wrong)
        except AttributeError as ex:
            expected = interpreters_suggestion(ex)
            candidates = suggest.public(sorted(dir(holder)), wrong)
            ours = suggest.python_suggestion(wrong, candidates)
            assert ours == expected, (wrong, names, ours, expected)
            agreed += 1
            offered += expected is not None
    assert agreed > 900 and offered > 300  # the comparison covered both answers


def _raise_name_error(wrong: str) -> None:
    total = 3  # noqa: F841 (names the typos mean)
    revenue_by_region = {}  # noqa: F841
    exec(f"def probe():\n    total = 3\n    revenue_by_region = {{}}\n    return {wrong}\n", globals(), scope := {})
    scope["probe"]()


@pytest.mark.skipif(sys.version_info < (3, 10), reason="Python prints suggestions since 3.10")
@pytest.mark.parametrize("wrong", ["totl", "Total", "revenue_by_regin", "lenn", "prnt", "zzz_nothing_close"])
def test_name_suggestions_match_the_interpreter(wrong):
    try:
        _raise_name_error(wrong)
    except NameError as ex:
        tb = ex.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        frame = tb.tb_frame
        candidates = list(frame.f_locals) + list(frame.f_globals) + list(frame.f_builtins)
        assert suggest.python_suggestion(wrong, candidates) == interpreters_suggestion(ex)


@pytest.mark.skipif(not hasattr(__import__("traceback"), "_compute_suggestion_error"),
                    reason="Python computes suggestions in traceback.py since 3.12")
def test_the_same_as_tracebacks_own_function_where_python_has_one():
    import traceback

    rng = random.Random(11)
    for _ in range(500):
        names = sorted(rng.sample(["predict_proba", "predict", "fit", "score", "alpha", "Alpha", "transform"], 4))
        holder = type("Holder", (), {n: 1 for n in names})()
        wrong = _mistyped(rng.choice(names), rng)
        if hasattr(holder, wrong):
            continue
        try:
            getattr(holder, wrong)
        except AttributeError as ex:
            expected = traceback._compute_suggestion_error(ex, ex.__traceback__, wrong)
            assert suggest.python_suggestion(wrong, suggest.public(sorted(dir(holder)), wrong)) == expected


def test_closest_lists_pythons_choice_first_then_the_next_ones():
    names = ["price", "prices", "priced", "quantity", "region"]
    assert suggest.closest("prise", names) == ["price", "prices", "priced"]
    assert suggest.closest("prise", names, n=1) == [suggest.python_suggestion("prise", names)]
    assert suggest.closest("zzzz", names) == []
    assert suggest.closest("price", ["price"]) == []  # the missing name itself is never the answer


def test_case_changes_cost_less_than_letters():
    assert suggest.closest("Price", ["price", "Prime"]) == ["price", "Prime"]
    assert suggest.distance("Price", "price", 10) == suggest.CASE_COST
    assert suggest.distance("abc", "axc", 10) == suggest.MOVE_COST


def test_python_offers_nothing_above_its_candidate_cap_and_closest_still_does():
    many = [f"column_{i}" for i in range(suggest.MAX_PYTHON_CANDIDATES)] + ["revenue"]
    assert suggest.python_suggestion("revenu", many) is None
    assert suggest.closest("revenu", many) == ["revenue"]


def test_private_names_stay_hidden_unless_asked_for():
    assert suggest.public(["_fit", "fit", "__init__"], "fitt") == ["fit"]
    assert suggest.public(["_fit", "fit"], "_fitt") == ["_fit", "fit"]


VERSION_CHECK = '''
import contextlib, importlib.util, io, random, re, string, sys, traceback
spec = importlib.util.spec_from_file_location("suggest", sys.argv[1])
suggest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suggest)
PRINTED = re.compile(r"Did you mean: '([^']+)'\\\\?")


def printed(ex):
    if sys.version_info >= (3, 12):
        text = "".join(traceback.format_exception(ex))
    else:
        buffer = io.StringIO()
        with contextlib.redirect_stderr(buffer):
            sys.__excepthook__(type(ex), ex, ex.__traceback__)
        text = buffer.getvalue()
    found = PRINTED.search(text.splitlines()[-1])
    return found.group(1) if found else None


rng = random.Random(7)
words = ["predict_proba", "predict", "fit", "fit_transform", "transform", "score", "coef_", "Alpha", "alpha",
         "alphas", "get_params", "set_params", "classes_", "decision_function"]
agreed = offered = 0
for _ in range(600):
    names = rng.sample(words, rng.randint(3, len(words)))
    holder = type("Holder", (), {n: 1 for n in names})()
    chars = list(rng.choice(names))
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(chars))
        op = rng.choice(["case", "insert", "delete", "replace"])
        if op == "case":
            chars[i] = chars[i].swapcase()
        elif op == "insert":
            chars.insert(i, rng.choice(string.ascii_lowercase))
        elif op == "delete" and len(chars) > 1:
            del chars[i]
        else:
            chars[i] = rng.choice(string.ascii_lowercase)
    wrong = "".join(chars)
    if not wrong.isidentifier() or hasattr(holder, wrong):
        continue
    try:
        getattr(holder, wrong)
    except AttributeError as ex:
        expected = printed(ex)
        ours = suggest.python_suggestion(wrong, suggest.public(sorted(dir(holder)), wrong))
        assert ours == expected, (wrong, names, ours, expected)
        agreed += 1
        offered += expected is not None
print("agreed", agreed, "offered", offered)
'''


def _interpreters() -> list[str]:
    """Other CPython versions on this machine (pyenv's, or on PATH): the rule is checked on each."""
    import shutil

    found = []
    for version in ("3.10", "3.12", "3.13"):
        candidates = sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python3"))
        on_path = shutil.which(f"python{version}")
        if on_path and "/shims/" not in on_path:
            candidates.append(Path(on_path))
        if candidates:
            found.append(str(candidates[0]))
    return found


@pytest.mark.parametrize("python", _interpreters() or [None])
def test_the_rule_matches_each_interpreters_own_suggestions(python, tmp_path):
    if python is None:
        pytest.skip("no other CPython 3.10+ on this machine")
    import subprocess

    (tmp_path / "check.py").write_text(VERSION_CHECK)
    module = Path(suggest.__file__)
    out = subprocess.run([python, str(tmp_path / "check.py"), str(module)], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    agreed, offered = (int(n) for n in out.stdout.split()[1::2])
    assert agreed > 400 and offered > 100
