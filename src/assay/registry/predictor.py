"""One object to score data with any stored model version, whatever its flavor.

A :class:`Predictor` holds a loaded model, its :class:`~assay.registry.signature.Signature`
(if one was recorded), how it was stored (:class:`~assay.registry.flavors.FlavorInfo`) and
where it came from. ``predict`` validates the input against the signature first, then feeds
the model what it expects: a DataFrame for models fitted on named columns, a numpy array for
models fitted on plain arrays, an ``xgboost.DMatrix`` for a raw xgboost Booster.

Example::

    predictor = Predictor.load(Path("model"), info, signature=sig, name="churn", version=3)
    predictor.predict(customers_df)        # labels, as model.predict would return
    predictor.predict_proba(customers_df)  # class probabilities, classifiers only
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError
from assay.registry.flavors import FlavorInfo, load_model
from assay.registry.signature import Signature, _to_frame

__all__ = ["Predictor"]

_PROBA_OBJECTIVES_LGB = ("binary", "multiclass", "softmax", "cross_entropy", "xentropy")
_PROBA_OBJECTIVES_XGB = ("binary:logistic", "multi:softprob")


class Predictor:
    """A loaded model version, ready to score: ``predict`` and ``predict_proba`` over a DataFrame.

    Example::

        Predictor(model, info, signature=sig, name="churn", version=1).predict(df)
    """

    __slots__ = ("flavor", "model", "name", "signature", "uri", "version")

    def __init__(
        self,
        model: object,
        flavor: FlavorInfo,
        signature: Signature | None = None,
        *,
        name: str = "",
        version: int | str | None = None,
        uri: str = "",
    ) -> None:
        self.model = model
        self.flavor = flavor
        self.signature = signature
        self.name = name
        self.version = version
        self.uri = uri

    @classmethod
    def load(
        cls,
        directory: Path,
        flavor: FlavorInfo,
        *,
        signature: Signature | None = None,
        trusted: bool = False,
        name: str = "",
        version: int | str | None = None,
        uri: str = "",
    ) -> Predictor:
        """Load the model in ``directory`` (see :func:`~assay.registry.flavors.load_model`) and wrap it.

        Example::

            Predictor.load(Path("model"), info, signature=sig, name="churn", version=3)
        """
        model = load_model(directory, flavor, trusted=trusted)
        return cls(model, flavor, signature, name=name, version=version, uri=uri)

    @property
    def is_booster(self) -> bool:
        """True for a raw ``lightgbm.Booster`` / ``xgboost.Booster`` (no sklearn wrapper)."""
        return self.flavor.flavor in ("lightgbm", "xgboost") and self.flavor.extra.get("kind") == "booster"

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for ``data``: labels for classifiers, values for regressors.

        A raw booster returns what its own ``predict`` does (probabilities for binary and
        multiclass objectives). Input is validated against the signature when there is one.

        Example::

            predictor.predict({"tenure_months": [3, 40], "plan": ["free", "pro"]})
        """
        features = self._features(data)
        if self.is_booster:
            return self._booster_predict(features)
        method = getattr(self.model, "predict", None)
        if not callable(method):
            raise InvalidInputError(f"{self._label()} ({self.flavor.model_class}) has no predict method.")
        return self._call(method, features)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_rows, n_classes)``, for classifiers.

        For a raw booster with a binary objective the two columns are ``[1 - p, p]``.
        Raises :class:`~assay.errors.InvalidInputError` for a model that gives no probabilities.

        Example::

            predictor.predict_proba(df)[:, 1]  # probability of the positive class
        """
        if self.is_booster:
            objective = self._booster_objective()
            allowed = _PROBA_OBJECTIVES_LGB if self.flavor.flavor == "lightgbm" else _PROBA_OBJECTIVES_XGB
            if not objective.startswith(allowed):
                raise InvalidInputError(
                    f"{self._label()} is a {self.flavor.flavor} Booster with objective '{objective}', which "
                    "gives no class probabilities; use predict() instead."
                )
            scores = np.asarray(self._booster_predict(self._features(data)))
            return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores
        method = getattr(self.model, "predict_proba", None)
        if not callable(method):
            raise InvalidInputError(
                f"{self._label()} ({self.flavor.model_class}) has no predict_proba: it is not a "
                "probabilistic classifier; use predict() instead."
            )
        return self._call(method, self._features(data))

    def __repr__(self) -> str:
        parts = [repr(self.name) if self.name else "<unnamed>"]
        if self.version is not None:
            parts.append(f"version={self.version!r}")
        parts += [f"flavor={self.flavor.flavor!r}", f"model_class={self.flavor.model_class!r}"]
        if self.signature is not None:
            parts.append(f"inputs={self.signature.input_names!r}")
        if self.uri:
            parts.append(f"uri={self.uri!r}")
        return f"Predictor({', '.join(parts)})"

    # -- internals -------------------------------------------------------------------------------

    def _label(self) -> str:
        label = f"model '{self.name}'" if self.name else "the model"
        return f"{label} version {self.version}" if self.version is not None else label

    def _features(self, data: Any) -> Any:
        """Validated DataFrame, or the array/frame in the form the model was fitted on."""
        if self.signature is not None:
            frame = self.signature.validate(data)
        elif isinstance(data, pd.DataFrame | np.ndarray):
            frame = data
        elif isinstance(data, list | tuple) and not all(isinstance(row, Mapping) for row in data):
            frame = np.asarray(data)
        else:
            frame = _to_frame(data, [])
        if isinstance(frame, pd.DataFrame) and self._fitted_on_arrays():
            return frame.to_numpy()
        if isinstance(frame, pd.DataFrame):
            order = self._training_order()
            if order and list(frame.columns) != order and set(order) <= set(frame.columns):
                frame = frame[order]  # LightGBM and XGBoost read a frame by position, not by name
        return frame

    def _training_order(self) -> list[str] | None:
        """The feature names in the order the model was fitted on, when the model records them.

        A signature may list the columns in another order (it is inferred from an input example); models
        that read a frame by position would then silently score the wrong features.
        """
        m = self.model
        names: Any = None
        if hasattr(m, "feature_names_in_"):
            names = m.feature_names_in_
        elif self.flavor.flavor == "lightgbm":
            names = m.feature_name() if self.is_booster else getattr(m, "feature_name_", None)  # type: ignore[attr-defined]
        elif self.flavor.flavor == "xgboost":
            booster = m if self.is_booster else getattr(m, "get_booster", lambda: None)()  # type: ignore[attr-defined]
            names = getattr(booster, "feature_names", None)
        return [str(n) for n in names] if names is not None and len(names) else None

    def _fitted_on_arrays(self) -> bool:
        """True for sklearn-style models fitted on a numpy array (they warn on named columns)."""
        if self.is_booster:
            return False
        return hasattr(self.model, "n_features_in_") and not hasattr(self.model, "feature_names_in_")

    def _call(self, method: Any, features: Any) -> np.ndarray:
        try:
            return np.asarray(method(features))
        except Exception as exc:
            # Bad input shows up as ValueError/TypeError/KeyError, or LightGBMError (not a ValueError).
            library_error = type(exc).__module__.startswith(("lightgbm", "xgboost"))
            if not (library_error or isinstance(exc, ValueError | TypeError | KeyError)):
                raise
            raise InvalidInputError(f"{self._label()} could not score the input: {exc}") from exc

    def _booster_predict(self, features: Any) -> np.ndarray:
        if self.flavor.flavor == "xgboost":
            xgb = sys.modules.get("xgboost") or __import__("xgboost")
            try:
                features = xgb.DMatrix(features, enable_categorical=True)
            except (ValueError, TypeError) as exc:
                raise InvalidInputError(f"{self._label()}: input cannot be turned into a DMatrix: {exc}") from exc
        return self._call(self.model.predict, features)  # type: ignore[attr-defined]

    def _booster_objective(self) -> str:
        if self.flavor.flavor == "lightgbm":
            return str(self.model.params.get("objective", ""))  # type: ignore[attr-defined]
        config = json.loads(self.model.save_config())  # type: ignore[attr-defined]
        return str(config["learner"]["objective"]["name"])
