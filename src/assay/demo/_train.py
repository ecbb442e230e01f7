"""Train, evaluate and track the demo's two churn models.

Each model is one tracked run: its parameters, a per-iteration training curve where the model has
one (gradient boosting), test metrics with a 95% interval on the AUC, the train and test datasets,
an ``evaluation/`` folder of CSV/JSON artifacts (ROC curve, calibration by decile, feature
importance, metrics) and the fitted model, registered as a new version of ``churn``.

AUC intervals and the paired comparison of two models' AUCs use DeLong's method
(DeLong, DeLong & Clarke-Pearson, *Biometrics* 44, 1988) with the fast midrank algorithm of
Sun & Xu (*IEEE Signal Processing Letters* 21, 2014).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from assay.demo.company import CATEGORIES, FEATURES, LABEL

if TYPE_CHECKING:
    from assay.registry.registry import ModelVersion
    from assay.tracking.client import Client
    from assay.tracking.run import Run

__all__ = [
    "MODEL_NAME",
    "PROJECT",
    "DemoData",
    "ModelSpec",
    "TrainedModel",
    "auc_difference",
    "boosting_spec",
    "calibration_table",
    "delong",
    "evaluate_scores",
    "feature_importance",
    "linear_spec",
    "roc_table",
    "split",
    "train_and_track",
    "write_parquet",
]

MODEL_NAME = "churn"
PROJECT = "churn"
_Z95 = float(ndtri(0.975))
_THREADS = 1


@dataclass(frozen=True)
class DemoData:
    """A stratified train/test split of the customer table, and the Parquet files it was written to."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    train_path: Path
    test_path: Path


@dataclass(frozen=True)
class ModelSpec:
    """What to train: a run name, an unfitted estimator, the params and tags to record, how to fit it."""

    name: str
    estimator: Any
    params: dict[str, Any]
    tags: dict[str, str]
    fit: Callable[[Any, DemoData], dict[str, list[float]]]  # fits in place, returns curves {key: per-iteration}


@dataclass(frozen=True)
class TrainedModel:
    """A tracked, registered model and its test-set results."""

    name: str
    run_id: str
    version: ModelVersion
    metrics: dict[str, float]
    test_scores: np.ndarray = field(repr=False)
    seconds: float
    curve_points: int


def split(frame: pd.DataFrame, folder: Path, *, seed: int, test_size: float = 0.25) -> DemoData:
    """Stratified, seeded train/test split; each part written to ``folder`` as Parquet (atomically)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=test_size, stratify=frame[LABEL], random_state=seed)
    train_path = write_parquet(train, folder / "customers_train.parquet")
    test_path = write_parquet(test, folder / "customers_test.parquet")
    features = list(FEATURES)
    return DemoData(train[features], test[features], train[LABEL], test[LABEL], train_path, test_path)


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` via a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


# -- the two models ---------------------------------------------------------------------------------


def linear_spec(seed: int) -> ModelSpec:
    """Logistic regression behind one-hot encoding, median imputation (plus missing flags) and scaling."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in FEATURES if c in CATEGORIES]
    numeric = [c for c in FEATURES if c not in CATEGORIES]
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]
    )
    prep = ColumnTransformer(
        [("num", numeric_steps, numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    clf = LogisticRegression(C=1.0, max_iter=1000)
    params = {
        "model": "LogisticRegression",
        "C": clf.C,
        "solver": clf.solver,
        "max_iter": clf.max_iter,
        "imputer": "median+indicator",
        "scaler": "standard",
        "encoder": "one-hot",
        "n_features": len(FEATURES),
        "seed": seed,
    }
    return ModelSpec(
        "logistic-regression",
        Pipeline([("prep", prep), ("clf", clf)]),
        params,
        {"family": "linear", "library": "scikit-learn"},
        _fit_plain,
    )


def boosting_spec(seed: int, *, n_jobs: int = 1, use_lightgbm: bool | None = None) -> ModelSpec:
    """LightGBM (200 trees) when it is installed, else scikit-learn's HistGradientBoostingClassifier.

    One thread by default: on a small table the gain from more is a fraction of a second, while
    OpenMP threads competing with other busy processes on a 2-core machine make a fit 5-10× slower.
    """
    if use_lightgbm is None:
        use_lightgbm = importlib.util.find_spec("lightgbm") is not None
    params: dict[str, Any] = {
        "n_estimators": 200,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 50,
        "n_features": len(FEATURES),
        "seed": seed,
    }
    if use_lightgbm:
        import lightgbm as lgb

        extra = {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0}
        model = lgb.LGBMClassifier(
            **{k: v for k, v in params.items() if k not in ("n_features", "seed")},
            **extra,
            random_state=seed,
            n_jobs=n_jobs,
            verbose=-1,
        )
        tags = {"family": "gradient-boosting", "library": "lightgbm"}
        return ModelSpec("lightgbm", model, {"model": "LGBMClassifier", **params, **extra}, tags, _fit_lightgbm)

    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=params["n_estimators"],
        learning_rate=params["learning_rate"],
        max_leaf_nodes=params["num_leaves"],
        min_samples_leaf=params["min_child_samples"],
        l2_regularization=1.0,
        categorical_features="from_dtype",
        early_stopping=True,
        scoring="loss",
        validation_fraction=0.1,
        n_iter_no_change=30,
        random_state=seed,
    )
    tags = {"family": "gradient-boosting", "library": "scikit-learn"}
    params = {"model": "HistGradientBoostingClassifier", **params}
    return ModelSpec("hist-gradient-boosting", model, params, tags, _fit_hgb)


def _fit_plain(model: Any, data: DemoData) -> dict[str, list[float]]:
    model.fit(data.X_train, data.y_train)
    return {}


def _fit_lightgbm(model: Any, data: DemoData) -> dict[str, list[float]]:
    """Fit with the test set watched (never used to stop early); curves from ``evals_result_``."""
    evals = [(data.X_train, data.y_train), (data.X_test, data.y_test)]
    if "eval_X" in inspect.signature(model.fit).parameters:  # lightgbm ≥ 4.7 deprecates eval_set
        kw: dict[str, Any] = {"eval_X": tuple(x for x, _ in evals), "eval_y": tuple(y for _, y in evals)}
    else:
        kw = {"eval_set": evals}
    model.fit(data.X_train, data.y_train, eval_names=["train", "test"], eval_metric=["binary_logloss", "auc"], **kw)
    res = model.evals_result_
    return {
        "train_logloss": list(res["train"]["binary_logloss"]),
        "test_logloss": list(res["test"]["binary_logloss"]),
        "test_auc": list(res["test"]["auc"]),
    }


def _fit_hgb(model: Any, data: DemoData) -> dict[str, list[float]]:
    """Fit with early stopping on an internal validation split; curves from ``train_score_``."""
    model.fit(data.X_train, data.y_train)
    # scores are negative log loss; entry 0 is the model before the first tree
    return {
        "train_logloss": [-s for s in model.train_score_[1:]],
        "valid_logloss": [-s for s in model.validation_score_[1:]],
    }


# -- tracking -----------------------------------------------------------------------------------------


def train_and_track(client: Client, spec: ModelSpec, data: DemoData) -> TrainedModel:
    """Fit ``spec`` inside a run of project ``churn``; log everything and register the model."""
    with client.start_run(project=PROJECT, name=spec.name, tags={"source": "assay demo", **spec.tags}) as run:
        run.log_params({**spec.params, "train_rows": len(data.X_train), "test_rows": len(data.X_test)})
        run.log_dataset(data.train_path, role="train", name="customers_train")
        run.log_dataset(data.test_path, role="test", name="customers_test")
        started = time.perf_counter()
        with threadpool_limits(limits=_THREADS):  # BLAS / OpenMP pools (HistGradientBoosting, lbfgs)
            curves = spec.fit(spec.estimator, data)
        seconds = time.perf_counter() - started
        points = [(key, v, step) for key, values in curves.items() for step, v in enumerate(values, start=1)]
        if points:
            client.log_batch(run.id, points)
        scores = _positive_proba(spec.estimator, data.X_test)
        metrics = {**evaluate_scores(data.y_test.to_numpy(), scores), "fit_seconds": seconds}
        metrics["train_auc"] = _auc(data.y_train.to_numpy(), _positive_proba(spec.estimator, data.X_train))
        run.log_metrics(metrics)
        _log_evaluation(run, spec, data, scores, metrics)
        version = run.log_model(spec.estimator, name=MODEL_NAME, input_example=data.X_train.head(5))
    return TrainedModel(spec.name, run.id, version, metrics, scores, seconds, len(points))


def _positive_proba(model: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X))[:, 1]


def evaluate_scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC (with DeLong 95% interval), log loss, Brier score, and accuracy/precision/recall at 0.5."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        log_loss,
        precision_score,
        recall_score,
    )

    (auc,), cov = delong(y, [p])
    half = _Z95 * float(np.sqrt(cov[0, 0]))
    predicted = (p >= 0.5).astype(int)
    return {
        "auc": auc,
        "auc_ci_low": max(0.0, auc - half),
        "auc_ci_high": min(1.0, auc + half),
        "log_loss": float(log_loss(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "test_rows": float(len(y)),
        "test_positives": float(np.sum(y)),
    }


def _log_evaluation(run: Run, spec: ModelSpec, data: DemoData, p: np.ndarray, metrics: dict[str, float]) -> None:
    """Write ``evaluation/`` (ROC curve, calibration, importance, metrics) and store it with the run."""
    y = data.y_test.to_numpy()
    with tempfile.TemporaryDirectory(prefix="assay-demo-") as tmp:
        folder = Path(tmp) / "evaluation"
        folder.mkdir()
        roc_table(y, p).to_csv(folder / "roc_curve.csv", index=False)
        calibration_table(y, p).to_csv(folder / "calibration_deciles.csv", index=False)
        importance = feature_importance(spec.estimator)
        if importance is not None:
            importance.to_csv(folder / "feature_importance.csv", index=False)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        run.log_artifact(folder, "evaluation")


def roc_table(y: np.ndarray, p: np.ndarray, points: int = 101) -> pd.DataFrame:
    """The ROC curve thinned to about ``points`` rows (false positive rate, true positive rate, threshold)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y, p)
    idx = np.unique(np.clip(np.searchsorted(fpr, np.linspace(0, 1, points)), 0, len(fpr) - 1))
    return pd.DataFrame({"fpr": fpr[idx], "tpr": tpr[idx], "threshold": np.minimum(thresholds[idx], 1.0)})


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn rate per decile of score (decile 10 = riskiest)."""
    decile = pd.qcut(pd.Series(p).rank(method="first"), bins, labels=False) + 1
    frame = pd.DataFrame({"decile": decile.to_numpy(), "p": p, "y": y})
    out = frame.groupby("decile").agg(rows=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    return out.reset_index()


def feature_importance(model: Any) -> pd.DataFrame | None:
    """Gain importance for LightGBM, |coefficient| on standardised inputs for the linear pipeline."""
    if hasattr(model, "booster_"):
        booster = model.booster_
        gain = booster.feature_importance(importance_type="gain")
        frame = pd.DataFrame({"feature": booster.feature_name(), "importance": gain})
    elif hasattr(model, "named_steps") and hasattr(model.named_steps.get("clf"), "coef_"):
        names = model.named_steps["prep"].get_feature_names_out()
        coef = model.named_steps["clf"].coef_[0]
        frame = pd.DataFrame({"feature": names, "importance": np.abs(coef), "coefficient": coef})
    else:
        return None
    return frame.sort_values("importance", ascending=False, ignore_index=True)


# -- AUC statistics (DeLong) --------------------------------------------------------------------------


def delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[list[float], np.ndarray]:
    """AUCs of several score vectors on the same labels and their DeLong covariance matrix."""
    y = np.asarray(y).astype(bool)
    pos = np.vstack([np.asarray(s, dtype=float)[y] for s in scores])
    neg = np.vstack([np.asarray(s, dtype=float)[~y] for s in scores])
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        nan = float("nan")
        return [nan] * len(scores), np.full((len(scores), len(scores)), nan)
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(np.hstack([pos, neg]), axis=1)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return [float(a) for a in aucs], cov


def auc_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """AUC(a) − AUC(b) on the same test rows with its paired DeLong 95% interval and two-sided p-value."""
    from scipy.stats import norm

    (auc_a, auc_b), cov = delong(y, [a, b])
    diff = auc_a - auc_b
    se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    p_value = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    return {"difference": diff, "ci_low": diff - _Z95 * se, "ci_high": diff + _Z95 * se, "p_value": p_value}


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return delong(y, [p])[0][0]
