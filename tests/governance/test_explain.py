"""Explanations: contributions add up to the raw output, match the libraries' own TreeSHAP, rank the right features."""

from __future__ import annotations

import json
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from assay.errors import InvalidInputError, NotFoundError, SchemaMismatchError
from assay.governance.explain import (
    GlobalExplanation,
    LocalExplanation,
    explain,
    explain_version,
    importance,
    load_explanation,
)
from assay.tracking.client import Client

warnings.filterwarnings("ignore", message=".*feature names.*")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    """Outcome driven mostly by `a`, less by `b` and `plan`; `c` is noise."""
    rng = np.random.default_rng(0)
    n = 1200
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
            "plan": rng.choice(["free", "pro", "team"], n),
        }
    )
    logit = 2.5 * X["a"] - 1.0 * X["b"] + 0.8 * (X["plan"] == "team") + rng.normal(scale=0.5, size=n)
    return X, (logit > 0).astype(int)


@pytest.fixture(scope="module")
def numeric(data: tuple[pd.DataFrame, pd.Series]) -> tuple[pd.DataFrame, pd.Series]:
    X, y = data
    return X[["a", "b", "c"]], y


def _adds_up(exp: LocalExplanation, raw: np.ndarray, rtol: float = 1e-9) -> None:
    total = exp.base_value + exp.contributions.sum(axis=1)
    np.testing.assert_allclose(total, raw, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(exp.predictions, raw, rtol=rtol, atol=rtol)


# -- trees: native contributions ---------------------------------------------------------------------


def test_lightgbm_classifier_matches_its_own_pred_contrib(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1, n_jobs=1).fit(X, y)
    rows = X.head(200)
    exp = explain(model, rows)
    own = model.predict(rows, pred_contrib=True)
    assert exp.method == "lightgbm-tree" and exp.output == "log-odds"
    np.testing.assert_allclose(exp.contributions, own[:, :-1])
    assert exp.base_value == pytest.approx(own[0, -1])
    _adds_up(exp, model.predict(rows, raw_score=True))
    assert exp.features == ("a", "b", "c") and exp.index == tuple(rows.index)


def test_lightgbm_booster_on_arrays_and_multiclass(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = numeric
    arr = X.to_numpy()
    target = arr[:, 0] * 3 + arr[:, 1]
    reg = lgb.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1, "num_leaves": 8}, lgb.Dataset(arr, target), 20
    )
    exp = explain(reg, arr[:100])
    assert exp.features == ("f0", "f1", "f2") and exp.output == "raw score"
    _adds_up(exp, reg.predict(arr[:100], raw_score=True))
    classes = np.digitize(arr[:, 0], [-0.5, 0.5])
    multi = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}, lgb.Dataset(arr, classes), 10
    )
    with pytest.raises(InvalidInputError, match="class_index"):
        explain(multi, arr[:50])
    exp2 = explain(multi, arr[:50], class_index=2)
    _adds_up(exp2, multi.predict(arr[:50], raw_score=True)[:, 2])


def test_xgboost_sklearn_and_booster_match_pred_contribs(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    rows = X.head(150)
    model = xgb.XGBClassifier(n_estimators=25, max_depth=3, n_jobs=1).fit(X, y)
    exp = explain(model, rows)
    own = model.get_booster().predict(xgb.DMatrix(rows), pred_contribs=True)
    np.testing.assert_allclose(exp.contributions, own[:, :-1], rtol=1e-6)
    _adds_up(exp, model.predict(rows, output_margin=True), rtol=1e-5)
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, label=X["a"] * 2), 15
    )
    exp2 = explain(booster, rows)
    assert exp2.method == "xgboost-tree"
    _adds_up(exp2, booster.predict(xgb.DMatrix(rows), output_margin=True), rtol=1e-5)


def test_negative_class_of_binary_model_flips_sign(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    pos, neg = explain(model, X.head(20)), explain(model, X.head(20), class_index=0)
    np.testing.assert_allclose(neg.contributions, -pos.contributions)
    assert neg.base_value == pytest.approx(-pos.base_value)


# -- linear models ------------------------------------------------------------------------------------


def test_logistic_regression_contributions_are_exact(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = LogisticRegression().fit(X, y)
    exp = explain(model, X.head(300), background=X)
    expected = (X.head(300).to_numpy() - X.to_numpy().mean(axis=0)) * model.coef_[0]
    np.testing.assert_allclose(exp.contributions, expected)
    _adds_up(exp, model.decision_function(X.head(300)))
    assert exp.method == "linear" and exp.output == "log-odds" and exp.n_background == len(X)


def test_pipeline_maps_back_to_input_columns(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(), ["plan"])])
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    exp = explain(model, X)
    assert exp.feature_space == "input" and exp.features == ("a", "b", "c", "plan")
    _adds_up(exp, model.decision_function(X))
    assert exp.mean_abs().index[0] == "a"
    team = (X["plan"] == "team").to_numpy()
    assert exp.contributions[team, 3].mean() > exp.contributions[~team, 3].mean()


def test_pipeline_imputer_with_indicator_maps_back(data: tuple[pd.DataFrame, pd.Series]) -> None:
    from sklearn.impute import SimpleImputer

    X, y = data
    X = X.assign(a=X["a"].where(X.index % 7 != 0))  # some missing values in `a`
    pre = ColumnTransformer(
        [("num", SimpleImputer(add_indicator=True), ["a", "b"]), ("cat", OneHotEncoder(drop="first"), ["plan"])]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    exp = explain(model, X.head(300))
    assert exp.feature_space == "input" and exp.features == ("a", "b", "c", "plan")
    assert not exp.contributions[:, 2].any()  # `c` is dropped by the ColumnTransformer: no effect
    _adds_up(exp, model.decision_function(X.head(300)))


def test_pipeline_with_mixing_step_reports_transformed_columns(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = make_pipeline(StandardScaler(), PCA(n_components=2), LogisticRegression()).fit(X, y)
    exp = explain(model, X.head(100))
    assert exp.feature_space == "transformed" and exp.features == ("pca0", "pca1")
    _adds_up(exp, model.decision_function(X.head(100)))


def test_shapley_fallback_equals_linear_attribution(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = numeric
    target = 3 * X["a"] - 2 * X["b"] + 0.5 * X["c"]
    model = LinearRegression().fit(X, target)
    background = X.sample(40, random_state=1)
    linear = explain(model, X.head(30), background=background)
    shap = explain(model, X.head(30), background=background, method="shapley", n_background=40)
    assert shap.method == "exact-shapley"
    np.testing.assert_allclose(shap.contributions, linear.contributions, atol=1e-9)
    assert shap.base_value == pytest.approx(linear.base_value)


# -- model-agnostic fallback --------------------------------------------------------------------------


def test_exact_and_sampled_shapley_add_up(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    exp = explain(model, X.head(25), background=X, n_background=30)
    assert exp.method == "exact-shapley" and exp.output == "prediction" and exp.n_background == 30
    _adds_up(exp, model.predict(X.head(25)))
    background = X.sample(30, random_state=0)
    assert exp.base_value == pytest.approx(model.predict(background).mean())
    wide = pd.concat([X] + [X.rename(columns=lambda c, i=i: f"{c}{i}") for i in range(3)], axis=1)  # 12 features
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(wide, y)
    exp = explain(model, wide.head(10), n_background=10, n_permutations=4)
    assert exp.method == "sampled-shapley" and len(exp.features) == 12
    _adds_up(exp, model.predict(wide.head(10)))


def test_fallback_keeps_categorical_columns(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    X = X.assign(plan=X["plan"].astype("category"))
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype").fit(X, y)
    exp = explain(model, X.head(15), n_background=20)
    _adds_up(exp, model.decision_function(X.head(15)))
    assert exp.mean_abs().index[0] == "a"


def test_fallback_caps_rows(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(InvalidInputError, match="max_rows"):
        explain(model, X, max_rows=100)


# -- global importance ---------------------------------------------------------------------------------


def test_permutation_importance_ranks_informative_feature_first(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(), ["plan"])])
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    imp = importance(model, X, y, n_repeats=3)
    assert imp.method == "permutation" and imp.score == "roc_auc" and imp.features[0] == "a"
    assert imp.features[-1] == "c" and 0.9 < imp.baseline_score <= 1
    frame = imp.to_frame()
    assert list(frame.columns) == ["rank", "feature", "importance", "std", "share", "measurable"]
    assert not frame.set_index("feature").loc["c", "measurable"]
    assert "a (" in imp.summary() and "ROC AUC" in imp.summary()
    assert imp.partial_dependence[0].feature == "a" and imp.pd_output == "probability"
    r2 = importance(LinearRegression().fit(X[["a", "b", "c"]], 4 * X["b"]), X[["a", "b", "c"]], 4 * X["b"])
    assert r2.score == "r2" and r2.features[0] == "b"


def test_tree_importance_needs_no_labels(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(X, y)
    imp = importance(model, X)
    assert imp.method == "tree" and imp.features[0] == "a" and imp.score == "log-odds"
    own = np.abs(model.predict(X, pred_contrib=True)[:, :-1]).mean(axis=0)
    assert imp.importances[0] == pytest.approx(own.max())
    with pytest.raises(InvalidInputError, match="LightGBM or XGBoost"):
        importance(LogisticRegression().fit(X, y), X, y, method="tree")
    with pytest.raises(InvalidInputError, match="pass y"):
        importance(LogisticRegression().fit(X, y), X)


def test_multiclass_importance_and_scorers(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    from sklearn.metrics import get_scorer

    X, _ = numeric
    labels = pd.Series(np.array(["low", "mid", "high"])[np.digitize(X["a"], [-0.5, 0.5])])
    model = lgb.LGBMClassifier(n_estimators=15, verbose=-1, n_jobs=1).fit(X, labels)
    imp = importance(model, X, labels, n_repeats=2)
    assert imp.score == "neg_log_loss" and imp.features[0] == "a" and imp.partial_dependence == ()
    assert importance(model, X).features[0] == "a"  # tree: |contributions| summed over classes
    acc = importance(model, X, labels, scoring="accuracy", n_repeats=2)
    assert acc.features[0] == "a" and acc.baseline_score > 0.9
    custom = importance(model, X, labels, scoring=get_scorer("accuracy"), n_repeats=2)
    assert custom.baseline_score == pytest.approx(acc.baseline_score)
    with pytest.raises(InvalidInputError, match="could not score"):
        importance(model, X, labels.map({"low": "x", "mid": "y", "high": "z"}), scoring="neg_log_loss")


def test_partial_dependence_matches_sklearn(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    rows = X.head(300)
    model = LogisticRegression().fit(X, y)
    imp = importance(model, rows, y.head(300), top_k=1, n_repeats=2)
    pdp = imp.partial_dependence[0]
    ref = partial_dependence(
        model, rows, ["a"], custom_values={"a": np.array(pdp.grid)}, kind="average", method="brute"
    )
    np.testing.assert_allclose(pdp.average, ref["average"][0], rtol=1e-9)


def test_results_are_json_safe(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y)
    imp = importance(model, X, y, n_repeats=2)
    assert GlobalExplanation.from_dict(json.loads(json.dumps(imp.to_dict()))) == imp
    exp = explain(model, X.head(5))
    json.dumps(exp.to_dict())
    assert "Explained 5 rows" in exp.summary() and "<table>" in exp._repr_html_()
    assert exp.to_frame(long=True).shape == (15, 4)


# -- bad input ----------------------------------------------------------------------------------------


def test_bad_input_gives_typed_errors(numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = LogisticRegression().fit(X, y)
    with pytest.raises(SchemaMismatchError, match="'c'") as info:
        explain(model, X.drop(columns="c"))
    assert info.value.column == "c"
    with pytest.raises(InvalidInputError, match="no rows"):
        explain(model, X.head(0))
    with pytest.raises(InvalidInputError, match="missing values"):
        explain(model, X.head(10).assign(b=np.nan))
    with pytest.raises(InvalidInputError, match="2-D"):
        explain(model, np.zeros(3))
    with pytest.raises(InvalidInputError, match="Fit it"):
        explain(LogisticRegression(), X)
    with pytest.raises(InvalidInputError, match="'method'"):
        explain(model, X, method="magic")
    with pytest.raises(InvalidInputError, match="does not apply"):
        explain(model, X, method="tree")
    with pytest.raises(InvalidInputError, match="one label per row"):
        importance(model, X, y.head(5))
    with pytest.raises(InvalidInputError, match="scoring"):
        importance(model, X, y, scoring="r2")
    nan_ok = lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y)
    assert np.isfinite(explain(nan_ok, X.head(10).assign(b=np.nan)).contributions).all()
    rf = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(InvalidInputError, match="could not score"):
        explain(rf, X.head(5).assign(a="text"))


# -- registry: predictor and stored explanations -------------------------------------------------------


def test_predictor_signature_orders_columns(client: Client, numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = LogisticRegression().fit(X.to_numpy(), y)  # fitted on arrays; the signature names the columns
    with client.start_run(project="gov") as run:
        mv = client.log_model(run.id, model, "churn", input_example=X.head(5))
    predictor = client.load_model(mv.uri, trusted=True)
    shuffled = X.head(50)[["c", "a", "b"]].assign(extra=1)
    exp = explain(predictor, shuffled, background=X)
    assert exp.features == ("a", "b", "c") and exp.model == "model 'churn' version 1"
    _adds_up(exp, model.decision_function(X.head(50).to_numpy()))
    with pytest.raises(SchemaMismatchError):
        explain(predictor, X.drop(columns="b"))


def test_explain_version_stores_and_loads(client: Client, numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    with client.start_run(project="gov") as run:
        client.log_model(run.id, model, "churn", input_example=X.head(5))
        client.log_model(run.id, model, "churn", input_example=X.head(5))
    with pytest.raises(NotFoundError, match="explain_version"):
        load_explanation(client, "models:/churn/1")
    stored = explain_version(client, "models:/churn/1", X.head(500), y.head(500), local=True, n_repeats=2)
    assert stored.importance.features[0] == "a" and stored.local is not None
    assert stored.artifact_path == "governance/explanations/churn/v1.json"
    loaded = load_explanation(client, "models:/churn/1")
    assert loaded.importance == stored.importance and loaded.local == stored.local
    assert "churn v1" in loaded.summary()
    with pytest.raises(NotFoundError):
        load_explanation(client, "models:/churn/2")
    assert any(a["path"] == stored.artifact_path for a in client.list_artifacts(stored.run_id))


def test_registered_booster_explains_and_scores(client: Client, numeric: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = numeric
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 8}
    booster = lgb.train(params, lgb.Dataset(X, y), 15)
    with client.start_run(project="gov") as run:
        mv = client.log_model(run.id, booster, "risk", input_example=X.head(5))
    predictor = client.load_model(mv.uri)
    exp = explain(predictor, X.head(40)[["b", "c", "a"]])
    assert exp.features == ("a", "b", "c") and exp.output == "log-odds"
    _adds_up(exp, booster.predict(X.head(40), raw_score=True))
    imp = importance(predictor, X, y, n_repeats=2)
    assert imp.features[0] == "a" and imp.baseline_score > 0.9
