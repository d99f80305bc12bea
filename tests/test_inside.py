"""What the failing line looked inside (bridge/inside.py, bridge/mismatch.py, summarize/hints_inside.py):
real exceptions raised here on dicts, Configs, pandas, numpy and scikit-learn objects, summarized as
the step hook summarizes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .test_facts import summary_of

CFG = {"train": {"warmup_steps": 10, "lr": 0.1}, "data": {"path": "x.csv"}}
ROWS = [{"price": 1, "qty": 2}, {"price": 3, "qty": 4}]
DF = pd.DataFrame({"region": ["a", "b"], "revenue": [1, 2], "cost": [3, 4]})
RATES = pd.Series([1.0, 2.0], index=["usd", "eur"])


def _config():
    from metaflow.user_configs.config_parameters import ConfigValue

    return ConfigValue({"train": {"warmup_steps": 10, "lr": 0.1}, "seed": 1})


def test_a_nested_key_lists_the_keys_of_the_level_that_lacks_it_not_the_top():
    text = summary_of(lambda: CFG["train"]["warmup_step"])
    assert "Did you mean 'warmup_steps'? CFG[\"train\"]'s keys (2): 'warmup_steps', 'lr'." in text
    assert "'data'" not in text


def test_a_config_read_by_attribute_lists_the_keys_at_that_level():
    cfg = _config()
    text = summary_of(lambda: cfg.train.warmup_step)
    assert "Did you mean cfg.train.warmup_steps? cfg.train's keys (2): 'warmup_steps', 'lr'." in text


def test_a_dict_read_by_attribute_says_to_read_the_key():
    text = summary_of(lambda: CFG.train)
    assert "CFG is a dict: read its keys as CFG['train']." in text


@pytest.mark.parametrize("expr, owner, close", [
    (lambda: ROWS[0]["prcie"], "ROWS[0]'s keys (2)", "'price'"),
    (lambda: DF.groupby("region")["revnue"].sum(), "DF.groupby(\"region\")'s columns (3)", "'revenue'"),
    (lambda: DF[DF.cost > 0]["revnue"], "DF[DF.cost > 0]'s columns (3)", "'revenue'"),
    (lambda: DF.loc[:, ["region", "costs"]], "DF's columns (3)", "'cost'"),
    (lambda: RATES["euro"], "RATES's index labels (2)", "'eur'"),
])
def test_a_missing_key_or_column_names_the_container_it_was_looked_up_in(expr, owner, close):
    text = summary_of(expr)
    assert f"Did you mean {close}?" in text and owner in text, text


def test_a_recarray_field_typo_suggests_the_field():
    rec = np.rec.array([(1, 2.0)], names=["age", "income"])
    assert "Did you mean rec.income? rec's fields (2): 'age', 'income'." in summary_of(lambda: rec.incme)


@pytest.mark.parametrize("expr, said", [
    (lambda: ROWS[5], "ROWS has 2 items: indices 0 to 1"),
    (lambda: DF.iloc[7], "DF has 2 rows: indices 0 to 1"),
    (lambda: [][0], "is empty"),
])
def test_an_index_past_the_end_says_how_long_the_sequence_is(expr, said):
    assert said in summary_of(expr)


def train_model(data, learning_rate=0.1, epochs=3):
    return data


@pytest.mark.parametrize("expr, said", [
    (lambda: LogisticRegression(max_iters=10), "Did you mean max_iter= (not max_iters=)? LogisticRegression takes:"),
    (lambda: train_model(ROWS, lr=0.2), "Did you mean learning_rate= (not lr=)? train_model takes: learning_rate"),
    (lambda: DF.to_csv("x.csv", idnex=False), "Did you mean index= (not idnex=)? DF.to_csv takes: index,"),
    (lambda: make_pipeline(StandardScaler(), LogisticRegression()).set_params(logisticregresion__C=1),
     "Pipeline takes: memory, steps"),
])
def test_an_unexpected_keyword_names_the_ones_the_callee_takes(expr, said):
    assert said in summary_of(expr)


def test_keywords_passed_on_to_a_base_class_are_followed():
    class Base:
        def __init__(self, depth=3, rate=0.1):
            pass

    class Model(Base):
        def __init__(self, name="m", **kwargs):
            super().__init__(**kwargs)

    assert "Did you mean depth= (not dept=)? Base takes: depth, rate." in summary_of(lambda: Model(dept=2))
    from flowmcp.bridge import inside

    assert inside.keywords_of(Model) == ["name", "depth", "rate"]


def _fitted():
    X = pd.DataFrame({"age": [1.0, 2, 3, 4], "income": [1.0, 2, 3, 5], "tenure": [1.0, 0, 1, 0]})
    return LogisticRegression().fit(X, [0, 1, 0, 1]), X


def test_feature_names_that_differ_from_fit_are_named():
    model, X = _fitted()
    X_new = X.assign(customer_id=[1, 2, 3, 4])
    text = summary_of(lambda: model.predict(X_new))
    assert "model was fit on 3 columns: age, income, tenure; X_new has 4: age, income, tenure, customer_id " \
           "— extra: customer_id." in text


def test_a_pipeline_is_read_through_its_first_step_and_a_missing_column_is_named():
    _, X = _fitted()
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 1, 0, 1])
    X_new = X.drop(columns=["tenure"]).assign(plan=[1, 2, 3, 4])
    assert "extra: plan; missing: tenure." in summary_of(lambda: pipe.predict_proba(X_new))


def test_an_array_with_another_width_than_fit_says_both_counts():
    model, _ = _fitted()
    X_new = np.zeros((2, 5))
    with pytest.warns(UserWarning):
        text = summary_of(lambda: model.predict(X_new))
    assert "model was fit on 3 columns: age, income, tenure; X_new has 5 (an array: no column names)." in text


def test_a_merge_on_keys_of_different_dtypes_names_both_sides():
    orders = pd.DataFrame({"customer_id": [1, 2], "amount": [3.0, 4.0]})
    customers = pd.DataFrame({"customer_id": ["1", "2"], "name": ["a", "b"]})
    text = summary_of(lambda: pd.merge(orders, customers, on="customer_id", how="left"))
    assert "orders['customer_id'] is int64 (e.g. 1); customers['customer_id'] is" in text


def test_a_merge_key_missing_on_one_side_lists_that_sides_columns():
    orders = pd.DataFrame({"customer_id": [1, 2], "amount": [3.0, 4.0]})
    customers = pd.DataFrame({"cust_id": [1, 2], "name": ["a", "b"]})
    text = summary_of(lambda: orders.merge(customers, on="customer_id"))
    assert "customers's columns (2): 'cust_id', 'name'." in text


def test_arrays_numpy_cannot_join_and_inputs_of_different_lengths_show_their_shapes():
    a, b = np.zeros((3, 2)), np.zeros((3, 4))
    assert "Shapes: a (3, 2); b (3, 4)." in summary_of(lambda: np.vstack([a, b]))
    model, X = _fitted()
    y = [0, 1, 0]
    assert "Shapes: X (4, 3); y list of 3." in summary_of(lambda: model.fit(X, y))


def test_containers_are_read_without_running_user_code():
    import ast
    import inspect

    from flowmcp.bridge import inside

    calls = []

    class Loud(dict):
        def __getitem__(self, key):
            calls.append(key)
            return dict.__getitem__(self, key)

    class Holder:
        @property
        def table(self):
            calls.append("table")
            return {"a": 1}

    # read through the frame's locals by name, as a failing line's names are
    loud, holder, frame = Loud(inner={"x": 1}), Holder(), inspect.currentframe()  # noqa: F841
    assert inside.container_value(ast.parse('loud["inner"]', mode="eval").body, frame) == {"x": 1}
    for unsafe in ("holder.table", "holder.table['a']", "len(loud)", "loud.get('inner')"):
        with pytest.raises(inside.Unsafe):
            inside.container_value(ast.parse(unsafe, mode="eval").body, frame)
    assert calls == []
