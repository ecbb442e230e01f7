"""Predictor: validated scoring over every flavor, booster handling, clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.linear_model import LinearRegression, LogisticRegression

from assay.errors import InvalidInputError, SchemaMismatchError
from assay.registry.flavors import save_model
from assay.registry.predictor import Predictor
from assay.registry.signature import infer_signature

RNG = np.random.default_rng(11)
N = 120
X = pd.DataFrame({"tenure": RNG.integers(1, 60, N).astype(float), "spend": RNG.normal(50, 15, N)})
Y = (X["tenure"] + RNG.normal(0, 10, N) > 30).astype(int).to_numpy()
SIG = infer_signature(X)


def _load(model: object, tmp_path: Path, **kwargs: object) -> Predictor:
    info = save_model(model, tmp_path)
    return Predictor.load(tmp_path, info, signature=SIG, name="churn", version=2, uri="models:/churn/2", **kwargs)


def test_classifier_predicts_labels_and_probabilities(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    predictor = _load(model, tmp_path)
    shuffled = X[["spend", "tenure"]].assign(extra="ignored")
    np.testing.assert_array_equal(predictor.predict(shuffled), model.predict(X))
    np.testing.assert_array_equal(predictor.predict_proba(shuffled), model.predict_proba(X))
    records = X.head(3).to_dict("records")
    np.testing.assert_array_equal(predictor.predict(records), model.predict(X.head(3)))


def test_signature_errors_surface(tmp_path: Path) -> None:
    predictor = _load(LogisticRegression().fit(X, Y), tmp_path)
    with pytest.raises(SchemaMismatchError, match="'tenure'") as info:
        predictor.predict(X.drop(columns="tenure"))
    assert info.value.column == "tenure"


def test_model_fitted_on_arrays_gets_arrays(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X.to_numpy(), Y)
    sig = infer_signature(X.to_numpy())
    info = save_model(model, tmp_path)
    predictor = Predictor.load(tmp_path, info, signature=sig)
    with_names = X.set_axis(["f0", "f1"], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X has feature names, but ... was fitted without" warning
        np.testing.assert_array_equal(predictor.predict(with_names), model.predict(X.to_numpy()))
    np.testing.assert_array_equal(predictor.predict(X.to_numpy()), model.predict(X.to_numpy()))


def test_regressor_has_no_predict_proba(tmp_path: Path) -> None:
    predictor = _load(LinearRegression().fit(X, Y), tmp_path)
    assert predictor.predict(X).shape == (N,)
    with pytest.raises(InvalidInputError, match="no predict_proba"):
        predictor.predict_proba(X)


def test_lightgbm_booster_from_dataframe(tmp_path: Path) -> None:
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7}
    booster = lgb.train(params, lgb.Dataset(X, Y), num_boost_round=5)
    predictor = _load(booster, tmp_path)
    assert predictor.is_booster
    p = booster.predict(X)
    np.testing.assert_array_equal(predictor.predict(X), p)
    np.testing.assert_array_equal(predictor.predict_proba(X), np.column_stack([1 - p, p]))


def test_xgboost_booster_from_dataframe(tmp_path: Path) -> None:
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, Y), num_boost_round=5)
    predictor = _load(booster, tmp_path)
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_array_equal(predictor.predict(X), expected)
    np.testing.assert_array_equal(predictor.predict_proba(X)[:, 1], expected)

    regression = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, Y), num_boost_round=2)
    predictor = _load(regression, tmp_path / "reg")
    with pytest.raises(InvalidInputError, match="reg:squarederror"):
        predictor.predict_proba(X)


def test_xgboost_classifier_returns_labels(tmp_path: Path) -> None:
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(X, Y)
    predictor = _load(model, tmp_path)
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    assert set(np.unique(predictor.predict(X))) <= {0, 1}


def test_without_signature_and_repr(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    info = save_model(model, tmp_path)
    predictor = Predictor(model, info)
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    cls = "sklearn.linear_model._logistic.LogisticRegression"
    assert repr(predictor) == f"Predictor(<unnamed>, flavor='sklearn', model_class='{cls}')"
    named = Predictor(model, info, SIG, name="churn", version=2, uri="models:/churn/2")
    assert repr(named).startswith("Predictor('churn', version=2, flavor='sklearn'")
    assert "inputs=['tenure', 'spend']" in repr(named) and "uri='models:/churn/2'" in repr(named)


def test_model_failure_is_typed(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    predictor = Predictor(model, save_model(model, tmp_path))
    with pytest.raises(InvalidInputError, match="could not score"):
        predictor.predict(X[["tenure"]])


def test_categories_arrive_as_strings(tmp_path: Path) -> None:
    """A REST request carries strings; the signature turns them into the category the model was fit on."""
    frame = X.assign(plan=pd.Categorical(RNG.choice(["free", "pro", "team"], N)))
    labels = (frame["plan"] == "team").astype(int).to_numpy()
    model = lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(frame, labels)
    info = save_model(model, tmp_path)
    predictor = Predictor.load(tmp_path, info, signature=infer_signature(frame))
    request = {"tenure": [10.0, 10.0], "spend": [50.0, 50.0], "plan": ["team", "free"]}
    expected = model.predict_proba(pd.DataFrame(request).astype({"plan": frame["plan"].dtype}))
    np.testing.assert_array_equal(predictor.predict_proba(request), expected)
    single = predictor.predict_proba({"tenure": 10.0, "spend": 50.0, "plan": "team"})
    np.testing.assert_array_equal(single, expected[:1])


def test_booster_failure_is_typed(tmp_path: Path) -> None:
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, Y), num_boost_round=2)
    predictor = Predictor(booster, save_model(booster, tmp_path))  # no signature: the booster sees bad width
    with pytest.raises(InvalidInputError, match="could not score"):
        predictor.predict(X[["tenure"]])


@pytest.mark.parametrize("kind", ["lgbm-sklearn", "lgbm-booster", "xgb-sklearn", "sklearn"])
def test_signature_in_another_column_order_scores_the_right_features(kind: str, tmp_path: Path) -> None:
    """A signature inferred from a reordered example must not make position-reading models swap features."""
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400), "c": rng.normal(size=400)})
    y = (x["a"] - 2 * x["c"] > 0).astype(int)
    if kind == "lgbm-sklearn":
        model: object = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(x, y)
    elif kind == "lgbm-booster":
        model = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), 20)
    elif kind == "xgb-sklearn":
        model = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(x, y)
    else:
        model = LogisticRegression().fit(x, y)
    shuffled = x[["c", "a", "b"]]
    info = save_model(model, tmp_path)
    predictor = Predictor.load(tmp_path, info, signature=infer_signature(shuffled), name="m", version=1)
    expected = np.asarray(model.predict(x.head(50)))  # type: ignore[attr-defined]
    np.testing.assert_allclose(predictor.predict(shuffled.head(50)), expected)
    np.testing.assert_allclose(predictor.predict(x.head(50)), expected)
