"""Training-set metrics of a fitted scikit-learn-style estimator, as autolog records them.

Each function returns ``(metrics, problems)``: a metric that cannot be computed for this target
(e.g. ROC AUC with one class present) is reported in ``problems`` instead of raising.

Example::

    metrics, problems = classifier_metrics(model, X_train, y_train)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["classifier_metrics", "regressor_metrics"]


def classifier_metrics(est: Any, X: Any, y: Any, sw: Any = None) -> tuple[dict[str, float], list[str]]:
    """``training_accuracy/precision/recall/f1/log_loss/roc_auc`` of a fitted classifier, and what failed.

    Binary targets use ``pos_label=classes_[1]``; multiclass averages are weighted by support.
    """
    from sklearn import metrics as m

    out: dict[str, float] = {}
    problems: list[str] = []

    def attempt(name: str, fn: Callable[[], float]) -> None:
        try:
            out[f"training_{name}"] = float(fn())
        except Exception as exc:
            problems.append(f"training_{name}: {type(exc).__name__}: {exc}")

    try:
        y_pred = est.predict(X)
    except Exception as exc:
        return out, [f"predict on the training data failed: {type(exc).__name__}: {exc}"]
    attempt("accuracy", lambda: m.accuracy_score(y, y_pred, sample_weight=sw))
    classes = getattr(est, "classes_", None)
    if np.ndim(y) != 1 or classes is None or np.ndim(classes) != 1:
        return out, problems  # multi-output / multilabel: subset accuracy only
    avg: dict[str, Any] = (
        {"average": "binary", "pos_label": classes[1]} if len(classes) == 2 else {"average": "weighted"}
    )
    for name, fn in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
        attempt(name, lambda fn=fn: fn(y, y_pred, sample_weight=sw, zero_division=0, **avg))
    if hasattr(est, "predict_proba"):
        try:
            proba = est.predict_proba(X)
        except Exception as exc:
            return out, [*problems, f"predict_proba on the training data failed: {type(exc).__name__}: {exc}"]
        attempt("log_loss", lambda: m.log_loss(y, proba, labels=classes, sample_weight=sw))
        if len(classes) == 2:
            attempt("roc_auc", lambda: m.roc_auc_score(y, proba[:, 1], sample_weight=sw))
        else:
            attempt(
                "roc_auc",
                lambda: m.roc_auc_score(
                    y, proba, multi_class="ovr", average="weighted", labels=classes, sample_weight=sw
                ),
            )
    return out, problems


def regressor_metrics(est: Any, X: Any, y: Any, sw: Any = None) -> tuple[dict[str, float], list[str]]:
    """``training_mse/rmse/mae/r2`` of a fitted regressor, and what failed."""
    from sklearn import metrics as m

    try:
        y_pred = est.predict(X)
        mse = float(m.mean_squared_error(y, y_pred, sample_weight=sw))
        return {
            "training_mse": mse,
            "training_rmse": math.sqrt(mse),
            "training_mae": float(m.mean_absolute_error(y, y_pred, sample_weight=sw)),
            "training_r2": float(m.r2_score(y, y_pred, sample_weight=sw)),
        }, []
    except Exception as exc:
        return {}, [f"regression metrics: {type(exc).__name__}: {exc}"]
