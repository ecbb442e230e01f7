"""assay.autolog on real scikit-learn / LightGBM fits, against SQLite and PostgreSQL stores."""

from __future__ import annotations

import inspect
import math
import threading
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import select

import assay
from assay.store.models import Run as RunRow
from assay.tracking import autolog as autolog_module
from assay.tracking.autolog import AutologWarning
from assay.tracking.client import Client

lgb = pytest.importorskip("lightgbm")


@pytest.fixture(autouse=True)
def _autolog_off() -> Iterator[None]:
    """Every test leaves autolog disabled, whatever happened in it."""
    yield
    assay.autolog(disable=True)


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["tenure", "spend", "visits"])
    y = pd.Series((X["tenure"] + 0.5 * X["spend"] + rng.normal(scale=0.5, size=80) > 0).astype(int), name="churn")
    return X, y


def runs(client: Client) -> list[RunRow]:
    client.flush()
    with client.db.read() as conn:
        return list(conn.execute(select(RunRow).order_by(RunRow.start_ms)).all())


def only_run(client: Client) -> assay.Run:
    rows = runs(client)
    assert len(rows) == 1, [r.name for r in rows]
    return client.get_run(rows[0].id)


def no_autolog_warnings(caught: list[warnings.WarningMessage]) -> None:
    assert [str(w.message) for w in caught if issubclass(w.category, AutologWarning)] == []


def test_logistic_regression_logs_params_metrics_and_loadable_model(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression(C=0.5).fit(X, y)
    no_autolog_warnings(caught)

    run = only_run(client)
    info = run.info()
    assert (info["name"], info["status"], info["project"]) == ("LogisticRegression", "finished", "default")
    assert run.params["C"] == "0.5"
    metrics = run.metrics
    assert metrics["training_accuracy"] == pytest.approx(accuracy_score(y, model.predict(X)))
    assert metrics["training_roc_auc"] == pytest.approx(roc_auc_score(y, model.predict_proba(X)[:, 1]))
    assert {"training_precision", "training_recall", "training_f1", "training_log_loss"} <= set(metrics)
    assert run.tags["autolog.flavor"] == "sklearn"
    assert run.tags["autolog.model_uri"] == f"runs:/{run.id}/model"

    loaded = client.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.signature is not None  # from the 5-row input example


def test_pipeline_logs_one_run_with_nested_params(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=2.0))]).fit(X, y)

    run = only_run(client)
    assert run.name == "Pipeline"
    params = run.params
    assert params["clf__C"] == "2.0"
    assert params["scale"] == "StandardScaler"
    assert params["steps"] == "[('scale', 'StandardScaler'), ('clf', 'LogisticRegression')]"
    assert "training_accuracy" in run.metrics


def test_grid_search_logs_best_params_score_and_cv_results(client: Client, data) -> None:
    X, y = data
    assay.autolog(log_models=False)
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0, 100.0]}, cv=3).fit(X, y)

    run = only_run(client)  # not 1 + 3 candidates x 3 folds + refit
    assert run.name == "GridSearchCV"
    assert run.params["best_C"] == str(search.best_params_["C"])
    assert run.params["estimator"] == "LogisticRegression"
    assert run.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "training_accuracy" in run.metrics
    assert [a["path"] for a in run.artifacts()] == ["cv_results.csv"]


def test_cross_validation_folds_are_not_logged(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    scores = cross_val_score(LogisticRegression(), X, y, cv=3)

    assert len(scores) == 3
    assert runs(client) == []  # the fold fits are throw-away clones


def test_regressor_metrics(client: Client, data) -> None:
    X, _ = data
    y = 3 * X["tenure"] - X["visits"] + np.random.default_rng(1).normal(size=len(X))
    assay.autolog()
    model = LinearRegression().fit(X, y)

    metrics = only_run(client).metrics
    mse = mean_squared_error(y, model.predict(X))
    assert metrics["training_mse"] == pytest.approx(mse)
    assert metrics["training_rmse"] == pytest.approx(math.sqrt(mse))
    assert metrics["training_r2"] == pytest.approx(r2_score(y, model.predict(X)))
    assert "training_mae" in metrics and "training_accuracy" not in metrics


def test_lgbm_classifier(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    model = lgb.LGBMClassifier(n_estimators=15, min_child_samples=5, verbose=-1)
    held_out = (X.iloc[60:], y.iloc[60:])
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:  # lightgbm >= 4.7
        model.fit(X, y, eval_X=held_out[0], eval_y=held_out[1])
    else:
        model.fit(X, y, eval_set=[held_out])

    run = only_run(client)
    assert run.name == "LGBMClassifier" and run.tags["autolog.flavor"] == "lightgbm"
    assert run.params["n_estimators"] == "15"
    assert "training_roc_auc" in run.metrics
    history = run.metric_history("valid_0.binary_logloss")
    assert history["step"].tolist() == list(range(15))
    loaded = client.load_model(f"runs:/{run.id}/model")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_lightgbm_train_logs_per_iteration_history(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    train_set = lgb.Dataset(X.iloc[:60], y.iloc[:60])
    valid = lgb.Dataset(X.iloc[60:], y.iloc[60:], reference=train_set)
    params = {"objective": "binary", "learning_rate": 0.2, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, train_set, num_boost_round=12, valid_sets=[valid])

    run = only_run(client)
    assert run.name == "lightgbm.train"
    assert run.params["objective"] == "binary" and run.params["num_boost_round"] == "12"
    history = run.metric_history("valid_0.binary_logloss")
    assert history["step"].tolist() == list(range(12))
    assert history["value"].iloc[-1] < history["value"].iloc[0]
    loaded = client.load_model(f"runs:/{run.id}/model")
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))


def test_fit_inside_active_run_logs_into_it(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    with assay.start_run(project="churn", name="mine") as outer:
        LogisticRegression().fit(X, y)
        with pytest.warns(AutologWarning, match=r"params \['tol'\] were already logged"):
            LinearRegression().fit(X, y.astype(float))  # both have `tol`: the first value is kept
        assert assay.active_run() is outer

    assert [r.id for r in runs(client)] == [outer.id]
    assert outer.status == "finished"
    metrics = outer.metrics
    assert {"training_accuracy", "training_r2"} <= set(metrics)
    paths = {a["path"].split("/")[0] for a in outer.artifacts()}
    assert paths == {"model", "model-2"}  # the second model does not overwrite the first
    assert outer.tags["autolog.model_uri"] == f"runs:/{outer.id}/model-2"


def test_disable_restores_every_original_and_enabling_twice_does_not_double_wrap(client: Client, data) -> None:
    X, y = data
    originals = (LogisticRegression.fit, Pipeline.fit, GridSearchCV.fit, lgb.LGBMClassifier.fit, lgb.train)
    assay.autolog()
    assert LogisticRegression.fit is not originals[0]
    assay.autolog(silent=True)
    assert LogisticRegression.fit.__wrapped__ is originals[0]  # type: ignore[attr-defined]
    assert lgb.train.__wrapped__ is originals[4]  # type: ignore[attr-defined]

    assay.autolog(disable=True)
    assert (LogisticRegression.fit, Pipeline.fit, GridSearchCV.fit, lgb.LGBMClassifier.fit, lgb.train) == originals
    assert LogisticRegression.fit is originals[0]
    LogisticRegression().fit(X, y)
    assert runs(client) == []


def test_failing_fit_marks_its_run_failed_and_reraises(client: Client, data) -> None:
    X, y = data
    assay.autolog()
    with pytest.raises(ValueError, match="C"):
        LogisticRegression(C=-1.0).fit(X, y)

    run = only_run(client)
    assert run.status == "failed"
    assert run.params["C"] == "-1.0"  # params are logged before fit


def test_registered_model_name_creates_version_one(client: Client, data) -> None:
    X, y = data
    assay.autolog(registered_model_name="churn")
    model = LogisticRegression().fit(X, y)

    run = only_run(client)
    version = client.registry.get_version("churn", 1)
    assert version.run_id == run.id
    loaded = client.load_model("models:/churn/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_metrics_subsample_is_noted_in_a_tag(client: Client, data) -> None:
    X, y = data
    assay.autolog(max_metric_rows=50, log_models=False)
    LogisticRegression().fit(X.to_numpy(), y.to_numpy())

    run = only_run(client)
    assert run.tags["autolog.metrics_sample"] == "50 of 80 training rows (seeded random sample)"
    assert "training_accuracy" in run.metrics


def test_autolog_failures_warn_but_never_break_fit(client: Client, data, monkeypatch) -> None:
    X, y = data
    assay.autolog()

    def broken(*args, **kwargs):
        raise RuntimeError("artifact store down")

    monkeypatch.setattr(client.registry, "save_to_run", broken)
    y2 = np.column_stack([y, (X["spend"] > 0).astype(int) * 2])  # multiclass-multioutput: no accuracy
    with pytest.warns(AutologWarning) as caught:
        model = KNeighborsClassifier(n_neighbors=3).fit(X, y2)
    messages = " | ".join(str(w.message) for w in caught)
    assert "artifact store down" in messages and "training_accuracy" in messages
    assert {w.filename for w in caught} == {__file__}  # points at the user's fit call, not at autolog
    assert model.predict(X).shape == (80, 2)
    assert only_run(client).status == "finished"

    assay.autolog(silent=True)
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        KNeighborsClassifier(n_neighbors=3).fit(X, y2)
    no_autolog_warnings(quiet)


def test_store_unreachable_still_fits(data, monkeypatch) -> None:
    X, y = data
    assay.set_client(Client(store_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assay.autolog()
    with pytest.warns(AutologWarning, match="fit runs unlogged"):
        model = LogisticRegression().fit(X, y)
    assert model.coef_.shape == (1, 3)


def test_fit_transform_of_its_own_is_logged_once(client: Client, data) -> None:
    X, _ = data
    assay.autolog()
    reduced = PCA(n_components=2).fit_transform(X)  # PCA.fit_transform does not go through PCA.fit

    assert reduced.shape == (80, 2)
    run = only_run(client)
    assert run.name == "PCA" and run.params["n_components"] == "2"
    assert run.metrics == {}  # a transformer: no training metrics


def test_invalid_options_raise() -> None:
    with pytest.raises(ValueError, match="'project' parameter of autolog"):
        assay.autolog(project="")
    with pytest.raises(ValueError, match="max_metric_rows"):
        assay.autolog(max_metric_rows=0)
    with pytest.raises(ValueError, match="model name"):
        assay.autolog(registered_model_name="bad name!")
    assert not autolog_module._settings.enabled


def test_depth_guard_is_per_thread(client: Client, data) -> None:
    X, y = data
    assay.autolog(log_models=False)
    assert client.db is not None  # open the store up front: Client.db's first use from several threads at once races
    threads = [threading.Thread(target=LogisticRegression().fit, args=(X, y)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = runs(client)
    assert len(rows) == 3 and {r.status for r in rows} == {"finished"}
