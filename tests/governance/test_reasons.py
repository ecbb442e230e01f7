"""Reason codes: the features pushing hardest against the favourable outcome, as codes and phrases."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from assay.errors import InvalidInputError, SchemaMismatchError
from assay.governance.explain import explain
from assay.governance.reasons import Reason, ReasonCodes, reason_codes

COEF = {"balance": 3.0, "income": -2.0, "age": 1.0, "utilisation": 0.0}


@pytest.fixture(scope="module")
def model() -> LinearRegression:
    """An exact linear score: 3·balance − 2·income + 1·age (utilisation has no effect)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list(COEF))
    return LinearRegression().fit(X, X @ pd.Series(COEF))


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    """Mean zero in every column, so each contribution is coef × value."""
    return pd.DataFrame([[1.0] * 4, [-1.0] * 4], columns=list(COEF))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"balance": [2.0, -1.0, 0.0], "income": [1.0, -3.0, 0.0], "age": [1.0, 0.5, 0.0], "utilisation": [5, 1, 0]},
        index=["ann", "bob", "cy"],
    )


def test_picks_features_against_a_low_score(
    model: LinearRegression, background: pd.DataFrame, rows: pd.DataFrame
) -> None:
    codes = reason_codes(model, rows, k=4, background=background)
    ann, bob, cy = codes.reasons
    assert [r.feature for r in ann] == ["balance", "age"]  # income lowers the score; utilisation does nothing
    assert [r.contribution for r in ann] == pytest.approx([6.0, 1.0])
    assert [r.feature for r in bob] == ["income", "age"]
    assert cy == ()  # nothing pushes against the favourable outcome
    assert [r.code for r in ann] == ["R01", "R03"]  # stable per feature: position in the model's inputs
    assert codes.for_row(0) == ["Balance (2)", "Age (1)"]
    assert "1 rows have no feature pushing against them" in codes.summary()


def test_favourable_high_flips_the_direction(
    model: LinearRegression, background: pd.DataFrame, rows: pd.DataFrame
) -> None:
    codes = reason_codes(model, rows, background=background, favourable="high")
    assert [r.feature for r in codes.reasons[0]] == ["income"]
    assert [r.feature for r in codes.reasons[1]] == ["balance"]
    assert codes.reasons[0][0].contribution == pytest.approx(-2.0)


def test_k_and_min_contribution_limit_reasons(
    model: LinearRegression, background: pd.DataFrame, rows: pd.DataFrame
) -> None:
    assert [len(r) for r in reason_codes(model, rows, k=1, background=background).reasons] == [1, 1, 0]
    codes = reason_codes(model, rows, background=background, min_contribution=1.5)
    assert [[r.feature for r in row] for row in codes.reasons] == [["balance"], ["income"], []]


def test_phrases_templates_callables_and_codes(model: LinearRegression, background: pd.DataFrame) -> None:
    row = pd.DataFrame({"balance": [12500.0], "income": [-1.0], "age": [0.0], "utilisation": [0.0]})
    exp = explain(model, row, background=background)
    phrases = {
        "balance": "Balance is high ({value:,.0f})",
        "income_level": "unused",  # phrases for other models' features are ignored
        "income": lambda v: f"Income {v:+.1f}",
    }
    codes = reason_codes(exp, phrases=phrases, codes={"balance": "B1"})
    by_feature = {r.feature: r for r in codes.reasons[0]}
    assert by_feature["income"].phrase == "Income -1.0" and by_feature["income"].code == "R02"
    assert by_feature["balance"].phrase == "Balance is high (12,500)" and by_feature["balance"].code == "B1"


def test_templates_survive_missing_values_and_text(background: pd.DataFrame) -> None:
    from assay.governance.reasons import _phrase

    assert _phrase("balance", np.nan, "Balance is high ({value:,.0f})") == "Balance is high (missing)"
    assert _phrase("plan", "pro", "Plan {value:.2f}") == "Plan pro"
    assert _phrase("num__balance_amount", 12500.0, None) == "Balance amount (12,500)"
    assert _phrase("plan", "pro", "{feature} is {value}") == "Plan is pro"
    with pytest.raises(InvalidInputError, match="cannot be filled"):
        _phrase("plan", "pro", "{unknown}")


def test_frame_and_json(model: LinearRegression, background: pd.DataFrame, rows: pd.DataFrame) -> None:
    codes = reason_codes(model, rows, background=background)
    frame = codes.to_frame()
    assert list(frame.columns) == ["row", "rank", "code", "feature", "phrase", "contribution", "value"]
    assert frame["row"].tolist() == ["ann", "ann", "bob", "bob"] and frame["rank"].tolist() == [1, 2, 1, 2]
    data = json.loads(json.dumps(codes.to_dict()))
    assert data["reasons"][0][0]["feature"] == "balance" and isinstance(codes.reasons[0][0], Reason)
    assert isinstance(codes, ReasonCodes) and "<table>" in codes._repr_html_()


def test_tree_model_credit_example() -> None:
    """Default risk driven by utilisation: for the riskiest applicants it is the first reason."""
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame(
        {"utilisation": rng.uniform(0, 1, n), "income": rng.normal(50, 10, n), "age": rng.integers(18, 80, n)}
    )
    default = rng.uniform(size=n) < 1 / (1 + np.exp(-8 * (X["utilisation"] - 0.6)))
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=8, verbose=-1, n_jobs=1).fit(X, default)
    risky = X[X["utilisation"] > 0.92].head(50)
    codes = reason_codes(model, risky, k=2, phrases={"utilisation": "Utilisation is high ({value:.0%})"})
    firsts = [row[0].feature for row in codes.reasons if row]
    assert firsts.count("utilisation") >= 0.9 * len(risky)
    assert codes.reasons[0][0].phrase.startswith("Utilisation is high (9")
    assert codes.method == "lightgbm-tree" and "utilisation" in codes.summary()


def test_bad_parameters_raise_typed_errors(model: LinearRegression, rows: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="'k'"):
        reason_codes(model, rows, k=0)
    with pytest.raises(InvalidInputError, match="'favourable'"):
        reason_codes(model, rows, favourable="medium")
    with pytest.raises(InvalidInputError, match="min_contribution"):
        reason_codes(model, rows, min_contribution=-1)
    with pytest.raises(InvalidInputError, match="'phrases'"):
        reason_codes(model, rows, phrases=["balance"])
    with pytest.raises(InvalidInputError, match="phrases"):
        reason_codes(model, rows, phrases={"balance": 3})
    with pytest.raises(SchemaMismatchError):
        reason_codes(model, rows.drop(columns="age"))
    with pytest.raises(InvalidInputError, match="out of range"):
        reason_codes(model, rows).for_row(7)
