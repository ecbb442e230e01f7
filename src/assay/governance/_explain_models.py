"""Model adapters for explanations: what kind of model this is, what input it takes, what it outputs.

One :class:`ModelInfo` describes any supported model (an assay ``Predictor`` is unwrapped to ``.model``):
its kind (``lightgbm``, ``xgboost``, ``linear``, ``other``), its feature names, whether it is a classifier,
and how to get its raw output (margin / log-odds / prediction) and its scores (probabilities / predictions).
Library errors on bad input are translated into :class:`~assay.errors.InvalidInputError` here, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError, SchemaMismatchError

_LGB_MULTI = ("multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr")
_LGB_BINARY = ("binary", "cross_entropy", "xentropy")
_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before taking log-odds


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """What the explainers need to know about a model."""

    est: Any  # the raw estimator / booster
    kind: str  # "lightgbm" | "xgboost" | "linear" | "other"
    label: str  # for messages: "model 'churn' version 3" or the class name
    names: tuple[str, ...] | None  # the model's own feature names; None when fitted on plain arrays
    n_features: int | None
    signature: Any  # assay Signature or None
    n_classes: int  # 0 for regressors
    classes: np.ndarray | None


def resolve_model(model: Any) -> ModelInfo:
    """Describe ``model`` (a fitted estimator, booster, Pipeline or assay Predictor)."""
    from assay.registry.predictor import Predictor

    signature, label = None, type(model).__name__
    if isinstance(model, Predictor):
        signature = model.signature
        label = f"model '{model.name}'" if model.name else type(model.model).__name__
        label += f" version {model.version}" if model.version is not None else ""
        model = model.model
    if model is None or not callable(getattr(model, "predict", None)):
        raise InvalidInputError(f"{label} has no predict method; pass a fitted model or an assay Predictor.")
    kind = _kind(model)
    try:
        names, n_features = _feature_names(model, kind)
        n_classes, classes = _task(model, kind)
    except (AttributeError, ValueError) as exc:  # sklearn NotFittedError is a ValueError
        raise InvalidInputError(f"{label} cannot be explained: {exc}. Fit it before explaining it.") from exc
    return ModelInfo(model, kind, label, names, n_features, signature, n_classes, classes)


def model_frame(info: ModelInfo, X: Any, what: str = "X") -> pd.DataFrame:
    """``X`` as a DataFrame with exactly the model's input columns, in the model's order."""
    if X is None:
        raise InvalidInputError(f"{what} is None; pass a DataFrame with the model's input columns.")
    if info.signature is not None:
        frame = info.signature.validate(X)  # SchemaMismatchError names the column
    else:
        frame = _to_frame(X, info.names, what)
        if len(set(frame.columns)) != frame.shape[1]:
            raise InvalidInputError(f"{what} repeats column names; give every column a unique name.")
        if info.names is not None:
            missing = [n for n in info.names if n not in set(frame.columns)]
            if missing:
                raise SchemaMismatchError(
                    f"{what} is missing column '{missing[0]}' (of {len(missing)} missing) that {info.label} was "
                    f"trained on; got columns {list(map(str, frame.columns))[:20]}",
                    column=missing[0],
                )
            frame = frame.loc[:, list(info.names)]
        elif info.n_features is not None and frame.shape[1] != info.n_features:
            raise SchemaMismatchError(f"{what} has {frame.shape[1]} columns but {info.label} takes {info.n_features}.")
    if len(frame) == 0:
        raise InvalidInputError(f"{what} has no rows; pass at least one row to explain.")
    if frame.shape[1] == 0:
        raise InvalidInputError(f"{what} has no columns.")
    return frame


def feed(info: ModelInfo, frame: pd.DataFrame) -> Any:
    """The frame as the model expects it: a numpy array for models fitted on arrays."""
    return frame.to_numpy() if info.names is None else frame


def call_model(info: ModelInfo, frame: pd.DataFrame, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call ``fn``; translate bad-input errors from the model library into InvalidInputError."""
    try:
        return fn(*args, **kw)
    except Exception as exc:
        library = type(exc).__module__.startswith(("lightgbm", "xgboost"))
        if not (library or isinstance(exc, ValueError | TypeError | KeyError)):
            raise
        missing = [str(c) for c in frame.columns if frame[c].isna().any()]
        hint = f" Columns with missing values: {missing[:20]}; impute them or drop those rows." if missing else ""
        raise InvalidInputError(f"{info.label} could not score the input: {exc}.{hint}") from exc


def booster(info: ModelInfo) -> Any:
    """The native booster of a LightGBM / XGBoost model (sklearn wrapper or not)."""
    est = info.est
    if info.kind == "lightgbm":
        return est if type(est).__name__ == "Booster" else est.booster_
    return est if type(est).__name__ == "Booster" else est.get_booster()


def xgb_predict(info: ModelInfo, frame: pd.DataFrame, **kw: Any) -> np.ndarray:
    """XGBoost's own Booster.predict over ``frame`` (best iteration when early stopping recorded one)."""
    import xgboost as xgb

    b = booster(info)
    dm = call_model(info, frame, xgb.DMatrix, feed(info, frame), enable_categorical=True)
    best = getattr(b, "best_iteration", None) if "best_iteration" in b.attributes() else None
    it = (0, int(best) + 1) if best is not None else (0, 0)
    return np.asarray(call_model(info, frame, b.predict, dm, iteration_range=it, **kw), dtype=float)


def class_column(info: ModelInfo, width: int, class_index: int | None) -> tuple[int, float]:
    """Which output column to explain and its sign (binary class 0 = the negated positive-class output)."""
    if class_index is not None and (isinstance(class_index, bool) or not isinstance(class_index, int | np.integer)):
        raise InvalidInputError(f"The 'class_index' parameter must be an integer. Got {class_index!r}.")
    if width > 1:
        if class_index is None:
            if width == 2 and info.n_classes == 2:
                return 1, 1.0
            raise InvalidInputError(
                f"{info.label} has {width} outputs (one per class or target): pass class_index (0 to {width - 1})."
            )
        if not 0 <= class_index < width:
            raise InvalidInputError(f"class_index must be between 0 and {width - 1}. Got {class_index}.")
        return int(class_index), 1.0
    if class_index is None or (info.n_classes == 2 and class_index == 1):
        return 0, 1.0
    if info.n_classes == 2 and class_index == 0:
        return 0, -1.0
    raise InvalidInputError(f"class_index={class_index} does not apply: {info.label} has a single output.")


def pick(info: ModelInfo, out: np.ndarray, class_index: int | None) -> np.ndarray:
    """One column of a model output (n,) or (n, k), per :func:`class_column`."""
    out = np.asarray(out, dtype=float)
    out = out.reshape(len(out), -1)
    k, sign = class_column(info, out.shape[1], class_index)
    return sign * out[:, k]


def raw_output(info: ModelInfo, frame: pd.DataFrame, class_index: int | None = None) -> np.ndarray:
    """The raw output contributions add up to: margin / log-odds for classifiers, raw score for regressors."""
    est, data = info.est, feed(info, frame)
    if info.kind == "lightgbm":
        out = call_model(info, frame, booster(info).predict, data, raw_score=True)
    elif info.kind == "xgboost":
        out = xgb_predict(info, frame, output_margin=True)
    elif info.n_classes and callable(getattr(est, "decision_function", None)):
        out = call_model(info, frame, est.decision_function, data)
    elif info.n_classes:
        p = np.clip(np.asarray(call_model(info, frame, est.predict_proba, data), dtype=float), _EPS, 1 - _EPS)
        out = np.log(p / (1 - p))
    else:
        out = call_model(info, frame, est.predict, data)
    return pick(info, out, class_index)


def output_scale(info: ModelInfo, method: str) -> str:
    """Words for the scale of :func:`raw_output`."""
    if info.n_classes == 0:
        return "raw score" if info.kind in ("lightgbm", "xgboost") else "prediction"
    logistic = info.kind in ("lightgbm", "xgboost") or "Logistic" in type(_last(info.est)).__name__
    if not logistic and callable(getattr(info.est, "decision_function", None)):
        return "decision function"
    return "log-odds" if info.n_classes == 2 else "raw class score (log-odds, softmax input)"


def predict_scores(info: ModelInfo, frame: pd.DataFrame) -> np.ndarray:
    """Class probabilities (n, k) for classifiers, predictions (n,) for regressors."""
    est, data = info.est, feed(info, frame)
    if info.kind == "lightgbm":
        out = np.asarray(call_model(info, frame, booster(info).predict, data), dtype=float)
    elif info.kind == "xgboost":
        out = xgb_predict(info, frame)
    elif info.n_classes and callable(getattr(est, "predict_proba", None)):
        out = np.asarray(call_model(info, frame, est.predict_proba, data), dtype=float)
    elif info.n_classes:  # no probabilities: squash the decision function (ranks are what matter)
        d = np.asarray(call_model(info, frame, est.decision_function, data), dtype=float)
        out = 1 / (1 + np.exp(-d)) if d.ndim == 1 else np.exp(d) / np.exp(d).sum(axis=1, keepdims=True)
    else:
        out = np.asarray(call_model(info, frame, est.predict, data), dtype=float)
    if info.n_classes == 2 and out.ndim == 1:
        out = np.column_stack([1 - out, out])
    return out


# -- internals -------------------------------------------------------------------------------------


def _last(est: Any) -> Any:
    steps = getattr(est, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else est


def _is_linear_leaf(est: Any) -> bool:
    module = type(est).__module__
    return module.startswith("sklearn.linear_model") and "_glm" not in module and hasattr(est, "coef_")


def _kind(est: Any) -> str:
    module = type(est).__module__
    if module.startswith("lightgbm"):
        return "lightgbm"
    if module.startswith("xgboost"):
        return "xgboost"
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and steps:
        linear = _is_linear_leaf(steps[-1][1])
        pre = [s for _, s in steps[:-1] if s not in (None, "passthrough")]
        return "linear" if linear and all(callable(getattr(s, "transform", None)) for s in pre) else "other"
    return "linear" if _is_linear_leaf(est) else "other"


def _feature_names(est: Any, kind: str) -> tuple[tuple[str, ...] | None, int | None]:
    if kind == "lightgbm":
        b = est if type(est).__name__ == "Booster" else est.booster_
        names = b.feature_name()
        auto = all(n == f"Column_{i}" for i, n in enumerate(names))
        return (None if auto else tuple(names)), b.num_feature()
    if kind == "xgboost":
        b = est if type(est).__name__ == "Booster" else est.get_booster()
        return (tuple(b.feature_names) if b.feature_names else None), b.num_features()
    names = getattr(est, "feature_names_in_", None)
    n = getattr(est, "n_features_in_", None)
    if names is None and n is None:  # sklearn estimators expose these once fitted
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(est)
    return (tuple(str(x) for x in names) if names is not None else None), n


def _task(est: Any, kind: str) -> tuple[int, np.ndarray | None]:
    classes = getattr(est, "classes_", None) if type(est).__name__ != "Booster" else None
    if kind == "lightgbm":
        b = est if type(est).__name__ == "Booster" else est.booster_
        objective = str(b.params.get("objective", ""))
        if objective.startswith(_LGB_MULTI):
            return b.num_model_per_iteration(), classes
        return (2 if objective.startswith(_LGB_BINARY) else 0), (classes if objective.startswith(_LGB_BINARY) else None)
    if kind == "xgboost":
        b = est if type(est).__name__ == "Booster" else est.get_booster()
        learner = json.loads(b.save_config())["learner"]
        objective = learner["objective"]["name"]
        if objective.startswith("multi:"):
            return int(learner["learner_model_param"]["num_class"]), classes
        return (2, classes) if objective.startswith("binary:") else (0, None)
    from sklearn.base import is_classifier

    if is_classifier(est) and classes is not None:
        return len(classes), np.asarray(classes)
    return 0, None


def _to_frame(X: Any, names: tuple[str, ...] | None, what: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame().T
    if isinstance(X, Mapping):
        scalar = all(np.ndim(v) == 0 for v in X.values())
        return pd.DataFrame([X]) if scalar else pd.DataFrame(dict(X))
    if isinstance(X, list) and X and all(isinstance(r, Mapping) for r in X):
        return pd.DataFrame(X)
    try:
        array = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{what} must be a DataFrame or a 2-D array; got {type(X).__name__}") from exc
    if array.ndim != 2:
        raise InvalidInputError(
            f"{what} must be 2-D (rows × features); got {array.ndim}-D. For one row use X.reshape(1, -1)."
        )
    cols = (
        list(names) if names is not None and len(names) == array.shape[1] else [f"f{i}" for i in range(array.shape[1])]
    )
    return pd.DataFrame(array, columns=cols)
