"""Global importance helpers: permutation importance with model-agnostic scorers, and partial dependence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import AssayError, InvalidInputError
from assay.governance._explain_models import ModelInfo, predict_scores
from assay.results import json_safe

_SCORERS = (
    "roc_auc",
    "average_precision",
    "accuracy",
    "neg_log_loss",
    "r2",
    "neg_mean_squared_error",
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
)


@dataclass(frozen=True)
class PartialDependence:
    """Average prediction as one feature is set to each grid value for every row (brute-force PD)."""

    feature: str
    kind: str  # "numeric" | "categorical"
    grid: tuple[Any, ...]
    average: tuple[float, ...]


def permutation(
    model: Any, info: ModelInfo, frame: pd.DataFrame, y: pd.Series, scoring: Any, n_repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str, float]:
    from sklearn.inspection import permutation_importance

    if callable(scoring):
        name = getattr(scoring, "__name__", "score")
        scorer = lambda _est, data, target: scoring(model, data, target)  # noqa: E731
    else:
        name = scoring or ("r2" if info.n_classes == 0 else "roc_auc" if info.n_classes == 2 else "neg_log_loss")
        if name not in _SCORERS:
            raise InvalidInputError(
                f"The 'scoring' parameter of importance must be one of {list(_SCORERS)} or a callable "
                f"scorer(model, X, y). Got {name!r}."
            )
        scorer = lambda _est, data, target: _score(info, name, data, target)  # noqa: E731
    try:
        baseline = float(scorer(None, frame, y.to_numpy()))
        result = permutation_importance(
            _Fitted(), frame, y.to_numpy(), scoring=scorer, n_repeats=n_repeats, random_state=seed
        )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, AssayError):
            raise
        raise InvalidInputError(f"could not score {info.label} with {name!r} against y: {exc}") from exc
    return result.importances_mean, result.importances_std, name, baseline


class _Fitted:
    """permutation_importance insists on an object with ``fit``; the scorer closes over the real model."""

    def fit(self, *_: Any) -> _Fitted:  # pragma: no cover - never called
        return self


def _score(info: ModelInfo, name: str, frame: pd.DataFrame, y: np.ndarray) -> float:
    from sklearn import metrics

    pred = predict_scores(info, frame)
    if info.n_classes == 0:
        fn = {
            "r2": metrics.r2_score,
            "neg_mean_squared_error": metrics.mean_squared_error,
            "neg_root_mean_squared_error": metrics.root_mean_squared_error,
            "neg_mean_absolute_error": metrics.mean_absolute_error,
        }.get(name)
        if fn is None:
            raise InvalidInputError(f"scoring {name!r} is for classifiers; {info.label} is a regressor.")
        return float(fn(y, pred)) * (1 if name == "r2" else -1)
    if name in ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error", "neg_mean_absolute_error"):
        raise InvalidInputError(f"scoring {name!r} is for regressors; {info.label} is a classifier.")
    classes = info.classes if info.classes is not None else np.arange(pred.shape[1])
    if name == "accuracy":
        return float(metrics.accuracy_score(y, np.asarray(classes)[pred.argmax(axis=1)]))
    if name == "neg_log_loss":
        return -float(metrics.log_loss(y, pred, labels=list(classes)))
    if pred.shape[1] == 2:
        positive = (np.asarray(y) == classes[1]).astype(int)
        fn = metrics.roc_auc_score if name == "roc_auc" else metrics.average_precision_score
        return float(fn(positive, pred[:, 1]))
    if name == "roc_auc":
        return float(metrics.roc_auc_score(y, pred, multi_class="ovr", labels=list(classes)))
    raise InvalidInputError(f"scoring {name!r} needs a binary classifier; {info.label} has {pred.shape[1]} classes.")


def partial_dependence(
    info: ModelInfo, frame: pd.DataFrame, feature: str, resolution: int, seed: int
) -> PartialDependence | None:
    """Brute-force partial dependence (sklearn's ``method="brute"``) on up to 500 rows; None for multiclass."""
    if info.n_classes > 2:
        return None
    column = frame[feature].dropna()
    if column.empty:
        return None
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric:
        grid = np.unique(column.to_numpy(dtype=float))
        if len(grid) > resolution:
            grid = np.unique(np.quantile(column.to_numpy(dtype=float), np.linspace(0.05, 0.95, resolution)))
        grid_values = [float(v) for v in grid]
    else:
        grid_values = list(column.value_counts().index[:resolution])
    sample = frame.sample(min(len(frame), 500), random_state=seed)
    block = pd.concat([sample] * len(grid_values), ignore_index=True)
    repeated = pd.Series(np.repeat(np.array(grid_values, dtype=object), len(sample)))
    block[feature] = repeated.astype(frame[feature].dtype)
    pred = predict_scores(info, block)
    pred = pred[:, 1] if pred.ndim == 2 else pred
    average = pred.reshape(len(grid_values), len(sample)).mean(axis=1)
    return PartialDependence(
        feature,
        "numeric" if numeric else "categorical",
        tuple(json_safe(v) for v in grid_values),
        tuple(float(v) for v in average),
    )


def check_labels(y: Any, frame: pd.DataFrame) -> pd.Series:
    values = pd.Series(np.asarray(y).reshape(-1) if not isinstance(y, pd.Series) else y.to_numpy())
    if len(values) != len(frame):
        raise InvalidInputError(f"y has {len(values):,} values but X has {len(frame):,} rows; pass one label per row.")
    if values.isna().any():
        raise InvalidInputError(f"y has {int(values.isna().sum()):,} missing labels; drop those rows from X and y.")
    values.index = frame.index
    return values
