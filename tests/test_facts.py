"""What the step process reads off live objects when a step fails (bridge/facts.py), and how the
server words it (summarize/hints.py, failure.py, text.py, shown_warnings.py): real exceptions
raised here, in this process, on real pandas, numpy and scikit-learn objects."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from flowmcp.bridge import capture
from flowmcp.summarize import failure as failure_summary
from flowmcp.summarize import shown_warnings
from flowmcp.summarize.text import condense_message


def record_of(fn, root: Path | None = None) -> dict:
    """Call `fn`, which must raise, and return the step hook's record of the exception."""
    try:
        fn()
    except Exception as ex:
        return capture.exception_record(ex, root=str(root or Path(__file__).parent))
    raise AssertionError("expected an exception")


def summary_of(fn, root: Path | None = None) -> str:
    root = root or Path(__file__).parent
    return failure_summary.render(failure_summary.from_capture({"exception": record_of(fn, root)}, root))


def fitted_model():
    X = np.arange(20, dtype=float).reshape(10, 2)
    return LogisticRegression().fit(X, [0, 1] * 5), X


# ---------------------------------------------------------------------------- suggestions


def test_a_typo_in_a_library_method_suggests_the_method():
    model, X = fitted_model()
    text = summary_of(lambda: model.predict_prob(X))
    assert "Did you mean model.predict_proba or model.predict_log_proba?" in text


def test_a_name_a_module_does_not_define_suggests_the_one_it_does(tmp_path, monkeypatch):
    (tmp_path / "features_mod_for_test.py").write_text("def build_features(df):\n    return df\n\nSCALE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def importing():
        from features_mod_for_test import build_feature  # noqa: F401

    text = summary_of(importing, tmp_path)
    assert "Did you mean `from features_mod_for_test import build_features`?" in text


def test_a_mistyped_local_module_suggests_the_projects_file(tmp_path, monkeypatch):
    (tmp_path / "features.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)

    def importing():
        import featurs  # noqa: F401

    text = summary_of(importing, tmp_path)
    assert "Did you mean features (features.py)?" in text


def test_a_mistyped_installed_module_suggests_it_and_a_missing_one_says_what_to_install(tmp_path):
    def sklearn_typo():
        import sklaern  # noqa: F401

    assert "Did you mean sklearn (installed" in summary_of(sklearn_typo, tmp_path)

    def absent():
        import cv2  # noqa: F401

    if "cv2" not in sys.modules:
        text = summary_of(absent, tmp_path)
        assert "pip install opencv-python" in text and sys.executable in text


def test_a_name_error_suggests_the_local_it_meant():
    def step():
        total = 3  # noqa: F841
        return totl  # noqa: F821

    assert "Did you mean total?" in summary_of(step)


def test_a_missing_column_of_a_small_frame_lists_every_column():
    df = pd.DataFrame({"price": [1.0], "qty": [2], "region": ["eu"]})
    text = summary_of(lambda: df["prcie"])
    assert "Did you mean 'price'? df's columns (3): 'price', 'qty', 'region'." in text


def test_a_missing_column_of_a_wide_frame_names_the_closest_and_the_count():
    df = pd.DataFrame({f"feature_{i}": [i] for i in range(18)} | {"region": ["eu"], "regions": ["x"]})
    text = summary_of(lambda: df.groupby("regon").size())
    assert "Did you mean 'region' or 'regions'? df has 20 columns" in text


def test_pandas_not_in_index_errors_name_the_columns():
    df = pd.DataFrame({"price": [1.0], "qty": [2]})
    text = summary_of(lambda: df[["price", "quantity"]])
    assert "df's columns (2): 'price', 'qty'." in text


# ---------------------------------------------------------------------------- data facts


def test_nan_in_a_fit_names_the_column_and_the_count():
    X = pd.DataFrame({"age": [30.0, np.nan, 41.0, np.nan], "income": [1.0, 2.0, 3.0, 4.0]})
    text = summary_of(lambda: LogisticRegression().fit(X, [0, 1, 0, 1]))
    assert "X (DataFrame 4×2): NaN in age (2 of 4 rows)." in text
    assert "https://" not in text and "more chars of the message cut" in text  # the library's advice, cut


def test_infinity_in_a_fit_names_the_column():
    X = pd.DataFrame({"ratio": [1.0, np.inf, 2.0, 3.0], "b": [1.0, 2.0, 3.0, 4.0]})
    text = summary_of(lambda: LogisticRegression().fit(X, [0, 1, 0, 1]))
    assert "inf in ratio (1 of 4 rows)" in text


def test_strings_in_a_fit_name_the_dtypes():
    X = pd.DataFrame({"age": [30, 40], "city": ["Paris", "Oslo"]})
    text = summary_of(lambda: LogisticRegression().fit(X, [0, 1]))
    assert f"X dtypes: age int64, city {X['city'].dtype} (e.g. 'Paris')." in text  # object, or str on pandas 3


def test_an_empty_input_is_called_out():
    X = pd.DataFrame({"a": [1.0, 2.0]})
    empty = X[X["a"] > 10]
    text = summary_of(lambda: LogisticRegression().fit(empty, []))
    assert "empty is empty: a DataFrame with 0 rows × 1 columns." in text
    scores = []
    assert "scores is empty: []." in summary_of(lambda: max(scores))


def test_nan_in_a_numpy_array_names_its_columns():
    X = np.ones((5, 3))
    X[1, 2] = np.nan
    text = summary_of(lambda: LogisticRegression().fit(X, [0, 1, 0, 1, 0]))
    assert "X (array 5×3): NaN in column 2 (1 of 5 rows)." in text


# ---------------------------------------------------------------------------- messages and warnings


def test_a_long_library_message_keeps_its_first_sentences_and_says_what_was_cut():
    advice = " ".join(f"Sentence {i} of advice that goes on." for i in range(30))
    text = condense_message("Input X contains NaN.\n" + advice + " See https://example.org/page")
    assert text.startswith("Input X contains NaN. Sentence 0 of advice")
    assert "more chars of the message cut]" in text and "https://" not in text and len(text) < 320


def test_urls_are_dropped_with_the_words_that_point_at_them_unless_they_are_the_message():
    assert condense_message("bad value, see https://docs.example.org/x for details") == "bad value"
    assert condense_message("https://docs.example.org/x") == "https://docs.example.org/x"
    assert condense_message("a short message stays as it is") == "a short message stays as it is"


def test_warnings_are_counted_once_per_kind_within_three_lines(tmp_path):
    captures = [{"step": "train", "warnings": [
        {"category": "ConvergenceWarning", "message": "lbfgs failed to converge", "count": 1,
         "where": "/venv/lib/python3.11/site-packages/sklearn/linear_model/_logistic.py:469"}]}] * 4
    captures.append({"step": "train", "warnings": [
        {"category": kind, "message": "m", "count": 1, "where": str(tmp_path / "flow.py") + ":3"}
        for kind in ("FutureWarning", "UserWarning", "DeprecationWarning")]})
    lines = shown_warnings.lines(captures, tmp_path)
    assert lines[0] == ("Warning: ConvergenceWarning ×4 in 4 tasks at sklearn/linear_model/_logistic.py:469: "
                        "lbfgs failed to converge")
    assert len(lines) == 3 and lines[2].startswith("… and 2 more kinds of warnings")


def test_the_step_hook_counts_warnings_and_still_shows_them():
    from flowmcp.bridge.project.step_hook import WarningsShown

    printed = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *rest: printed.append(str(message))  # what prints them
        shown = WarningsShown()
        with shown:
            for _ in range(3):
                warnings.warn("old API", FutureWarning, stacklevel=1)
    assert shown.records()[0]["count"] == 3 and shown.records()[0]["category"] == "FutureWarning"
    assert printed == ["old API"] * 3


# ---------------------------------------------------------------------------- outside the step function


def test_an_unpicklable_artifact_points_at_the_line_that_set_it(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text("class F:\n    def start(self):\n        self.rows = 1\n        self.transform = lambda x: x\n")
    record = {"step": "start", "persist_error": {"type": "UnpicklableArtifactException", "module": "metaflow",
                                                  "message": 'Cannot pickle dump artifact named "transform"'},
              "unsaved": {"name": "transform", "type": "function", "summary": "function <lambda>"}}
    summary = failure_summary.best_failure(step="start", task=None, captures=[record], cli_error=None,
                                           root=tmp_path, flow_file=flow)
    text = failure_summary.render(summary)
    assert text.startswith('flow.py:4 in start — UnpicklableArtifactException: Cannot pickle dump artifact named')
    assert "self.transform holds a function (function), which pickle cannot save" in text


def test_a_merge_conflict_says_which_input_holds_which_value(tmp_path):
    record = {"step": "join", "exception": {"type": "UnhandledInMergeArtifactsException", "module": "metaflow",
                                            "message": "Step *join* cannot merge ... [threshold]"},
              "merge_values": {"threshold": [["inputs[0] (a)", "float: 0.5"], ["inputs[1] (b)", "float: 0.7"]]}}
    text = failure_summary.render(failure_summary.from_capture(record, tmp_path))
    assert "threshold: inputs[0] (a) = float: 0.5; inputs[1] (b) = float: 0.7" in text
    assert "exclude=['threshold']" in text


def test_retries_say_how_many_attempts_failed(tmp_path):
    def attempt(n, message):
        return {"step": "s", "task_id": 2, "attempt": n,
                "exception": {"type": "ValueError", "module": "builtins", "message": message}}

    summary = failure_summary.best_failure(step="s", task=None, captures=[attempt(0, "first"), attempt(1, "second")],
                                           cli_error=None, root=tmp_path)
    assert summary.hints[0].startswith("Failed on all 2 attempts (@retry)")
    assert "Attempt 1 failed with: ValueError: first" in summary.hints[0]


@pytest.mark.parametrize("kind", ["facts", "capture"])
def test_nothing_is_evaluated_or_called_on_the_failing_line(kind):
    calls = []

    class Loud:
        @property
        def columns(self):
            calls.append("columns")
            return []

        def __getattr__(self, name):
            calls.append(name)
            raise AttributeError(name)

    loud = Loud()
    summary_of(lambda: loud.missing_thing)
    assert calls == ["missing_thing"]  # only the step's own access: no property read, no call


def test_the_oom_counter_is_read_from_the_processs_memory_cgroup(tmp_path):
    from flowmcp.bridge.project import memory

    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/jobs/one\n0::/\n")
    folder = tmp_path / "memory" / "jobs" / "one"
    folder.mkdir(parents=True)
    (folder / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (folder / "memory.limit_in_bytes").write_text(str(512 * 2**20))
    assert memory.oom_kills(str(tmp_path), str(proc)) == 2
    assert memory.memory_limit(str(tmp_path), str(proc)) == 512 * 2**20
    proc.write_text("0::/user.slice\n")
    (tmp_path / "user.slice").mkdir()
    (tmp_path / "user.slice" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert memory.oom_kills(str(tmp_path), str(proc)) == 1


def test_a_sigkill_names_the_oom_killer_only_when_it_acted():
    text = "Task failed with return code -9"
    assert "OOM killer stopped it" in failure_summary.render(
        failure_summary.from_exit("train", text, {"oom_kills": 1, "memory_limit": 2**30}))
    assert "(1.0 GiB here)" in failure_summary.render(
        failure_summary.from_exit("train", text, {"oom_kills": 1, "memory_limit": 2**30}))
    assert "usually means" in failure_summary.render(failure_summary.from_exit("train", text, {}))


def test_warnings_metaflow_hides_are_counted_and_still_hidden_and_errors_still_raise():
    from flowmcp.bridge.project.step_hook import WarningsShown

    printed = []
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *rest: printed.append(str(message))
        warnings.filterwarnings("ignore")  # what Metaflow's CLI does in every step process
        warnings.filterwarnings("error", category=UserWarning, message="strict")
        with WarningsShown() as shown:
            for _ in range(4):
                warnings.warn("lbfgs failed to converge", RuntimeWarning, stacklevel=1)
            with pytest.raises(UserWarning):
                warnings.warn("strict mode", UserWarning, stacklevel=1)
    assert printed == []
    assert shown.records()[0] == {**shown.records()[0], "category": "RuntimeWarning", "count": 4}
