"""A model version loaded for serving: validated inputs in, JSON-ready predictions out, as fast as it allows.

:class:`ServedModel` wraps a registry :class:`~assay.registry.predictor.Predictor`. LightGBM models (booster or
sklearn wrapper, built-in objective) on an all-numeric signature are scored by the native booster on a float
matrix with one thread for small requests: a single row costs tens of microseconds instead of milliseconds
(the sklearn wrapper's input checks and OpenMP start-up dominate otherwise). Outputs are identical to
``Predictor.predict`` / ``predict_proba``. Every other model goes through the Predictor.

Example::

    served = ServedModel(registry.load_model("models:/churn@production"))
    served.warm_up()
    out = served.score(served.schema.batch([{"tenure": 3, "spend": 20.5}]))
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.registry.predictor import Predictor
from assay.serving._inputs import Batch, InputSchema, RequestError

__all__ = ["Scored", "ServedModel"]

_PROBA_OBJECTIVES = ("binary", "multiclass", "softmax", "multiclassova", "cross_entropy", "xentropy")
FastFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Scored:
    """Model output for one batch: predictions, class probabilities (classifiers) and one score per row.

    ``scores`` is what monitoring reads: the positive-class probability of a binary classifier, the
    prediction of a regressor, ``None`` otherwise (e.g. multiclass).
    """

    predictions: list[Any]
    probabilities: list[list[float]] | None
    scores: list[float | None]


class ServedModel:
    """One loaded model version ready for requests (see the module docstring)."""

    def __init__(self, predictor: Predictor, *, allow_missing: bool = True, key_field: str | None = None) -> None:
        self.predictor = predictor
        self.name = predictor.name
        self.version = predictor.version
        self.uri = predictor.uri
        self.schema = InputSchema(predictor.signature, allow_missing=allow_missing, key_field=key_field)
        self._fast = _lightgbm_fast(predictor, self.schema)
        self.has_proba = _has_proba(predictor)
        self.fast_path = self._fast is not None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version is not None else self.uri

    def score(self, batch: Batch, *, threads: int = 1) -> Scored:
        """Predictions for a validated batch; bad input the model rejects is a 422 :class:`RequestError`."""
        if self._fast is not None and batch.matrix is not None:
            preds, proba = self._fast(batch.matrix, threads)
        else:
            data = batch.frame()
            try:
                preds = np.asarray(self.predictor.predict(data))
                proba = np.asarray(self.predictor.predict_proba(data)) if self.has_proba else None
            except RequestError:
                raise
            except InvalidInputError as exc:  # SchemaMismatchError keeps its column
                raise RequestError(str(exc), column=getattr(exc, "column", None)) from exc
        return Scored(_plain(preds), None if proba is None else _plain(proba), _scores(preds, proba))

    def warm_up(self) -> None:
        """Score one synthetic row so the first real request pays no lazy initialisation.

        A model that refuses the synthetic row (e.g. an unknown category) is still usable; any other failure
        propagates, so a broken version never takes traffic.
        """
        if self.predictor.signature is None:
            return
        with contextlib.suppress(InvalidInputError):
            self.score(self.schema.warmup_batch())

    def describe(self) -> dict[str, Any]:
        """Name, version, URI, flavor, class, signature and whether the fast path is used (for ``GET /model``)."""
        sig = self.predictor.signature
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "flavor": self.predictor.flavor.flavor,
            "model_class": self.predictor.flavor.model_class,
            "signature": sig.to_dict() if sig is not None else None,
            "probabilities": self.has_proba,
            "fast_path": self.fast_path,
        }

    @property
    def explainable(self) -> bool:
        """True for tree models (LightGBM, XGBoost): exact contributions need no background sample."""
        return self.predictor.flavor.flavor in ("lightgbm", "xgboost")


# -- helpers ----------------------------------------------------------------------------------------------------


def _has_proba(predictor: Predictor) -> bool:
    if predictor.is_booster:
        try:
            return predictor._booster_objective().startswith(_PROBA_OBJECTIVES)
        except Exception:  # an unreadable config: let predict_proba decide, never at request time
            return False
    return callable(getattr(predictor.model, "predict_proba", None))


def _plain(values: np.ndarray) -> list[Any]:
    """JSON-safe lists: numpy scalars to Python, NaN and infinities to None."""
    out = values.tolist()
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        if values.ndim == 1:
            return [v if math.isfinite(v) else None for v in out]
        return [[v if math.isfinite(v) else None for v in row] for row in out]
    return out


def _scores(preds: np.ndarray, proba: np.ndarray | None) -> list[float | None]:
    if proba is not None and proba.ndim == 2 and proba.shape[1] == 2:
        col = proba[:, 1]
    elif proba is None and preds.ndim == 1 and preds.dtype.kind in "fiub":
        col = preds.astype(np.float64)
    else:
        return [None] * len(preds)
    return [v if math.isfinite(v) else None for v in col.tolist()]


def _column_order(booster_names: list[str], names: list[str]) -> np.ndarray | bool | None:
    """Index array mapping signature columns to the booster's order; None when already aligned; False: unknown."""
    if booster_names == names:
        return None
    if len(booster_names) != len(names):
        return False
    if set(booster_names) == set(names):
        pos = {n: i for i, n in enumerate(names)}
        return np.array([pos[n] for n in booster_names])
    if all(b == f"Column_{i}" for i, b in enumerate(booster_names)):  # fitted on a plain array: positional
        return None
    return False


def _lightgbm_fast(predictor: Predictor, schema: InputSchema) -> FastFn | None:
    """A native-booster scorer matching Predictor's outputs, or None when the model does not qualify."""
    if predictor.flavor.flavor != "lightgbm" or not schema.numeric:
        return None
    model = predictor.model
    classes = None
    if predictor.is_booster:
        booster = model
    else:
        booster = getattr(model, "_Booster", None)
        objective = getattr(model, "objective_", None)
        if booster is None or not isinstance(objective, str):  # unfitted, or a custom objective function
            return None
        if hasattr(model, "predict_proba"):
            classes = getattr(model, "classes_", None)
            if classes is None:
                return None
    try:
        objective = str(booster.params.get("objective", ""))
        order = _column_order(list(booster.feature_name()), schema.names)
    except Exception:
        return None
    if order is False:
        return None
    proba_objective = objective.startswith(_PROBA_OBJECTIVES)
    if not predictor.is_booster and classes is not None and not proba_objective:
        return None

    def fast(matrix: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray | None]:
        x = matrix if order is None else matrix[:, order]
        try:
            raw = np.asarray(booster.predict(x, num_threads=threads))
        except Exception as exc:  # LightGBMError on a wrong width etc.: the caller's input
            raise RequestError(f"{predictor._label()} could not score the input: {exc}") from exc
        if classes is None:  # regressor, ranker, or raw booster: Predictor.predict returns the raw output
            if predictor.is_booster and proba_objective:
                proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
                return raw, proba
            return raw, None
        proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
        return classes[np.argmax(proba, axis=1)], proba

    return fast
