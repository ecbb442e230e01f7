"""Fairness mitigation by post-processing: per-group thresholds on a fitted classifier (fairlearn's ThresholdOptimizer).

:func:`mitigate` wraps a fitted binary classifier in a :class:`MitigatedModel` whose thresholds differ by
group so that the chosen constraint (demographic parity, equalized odds, ...) holds on the data it was
fitted on, while the objective (accuracy by default) is as high as the constraint allows
(Hardt, Price & Srebro, "Equality of Opportunity in Supervised Learning", NeurIPS 2016).

Two things every user of a mitigated model must know:

- **It needs the sensitive feature at prediction time.** ``predict(X)`` reads the sensitive column(s) from
  ``X`` by name (``model.sensitive_columns``) and feeds the base model ``model.feature_columns``. The
  registered version's signature lists both, so serving rejects input that lacks them.
- **Predictions are randomised** for groups whose best rule mixes two thresholds; ``random_state`` makes
  a call repeatable, but a row's outcome can depend on its position in the batch.

:func:`register_mitigated` does the registry round trip: load ``models:/churn/3``, fit the thresholds,
and register the result as a NEW version of the same model from a run of its own, recorded as derived from
the original (run param and tag ``derived_from``, the version's description, and a ``model.derive`` event
in the audit log). The wrapper is stored with pickle, which runs code on load: load it with
``trusted=True``, and only from a registry you trust.

Example::

    mitigated = mitigate(model, X_val, y_val, sensitive_features="gender")
    mitigated.predict(X_new)  # X_new must carry a 'gender' column
    result = register_mitigated(client, "models:/churn/3", X_val, y_val, "gender")
    client.load_model(result.model_version.uri, trusted=True).predict(X_new)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError, SchemaMismatchError
from assay.governance.fairness import MISSING_GROUP, fairness
from assay.registry.registry import ModelVersion
from assay.results import ResultMixin

__all__ = ["CONSTRAINTS", "MitigatedModel", "MitigatedVersion", "mitigate", "register_mitigated"]

CONSTRAINTS: tuple[str, ...] = (
    "demographic_parity",
    "equalized_odds",
    "true_positive_rate_parity",
    "false_positive_rate_parity",
    "true_negative_rate_parity",
    "false_negative_rate_parity",
)
OBJECTIVES: tuple[str, ...] = (
    "accuracy_score",
    "balanced_accuracy_score",
    "selection_rate",
    "true_positive_rate",
    "true_negative_rate",
)


class MitigatedModel:
    """A fitted classifier behind per-group thresholds; ``predict`` takes the sensitive columns from ``X``.

    Built by :func:`mitigate`. ``classes_`` are the base model's classes; ``groups_`` the sensitive groups
    seen when the thresholds were fitted (a group outside them raises rather than get an arbitrary rule).

    Example::

        mitigated.predict(pd.DataFrame({"tenure": [3, 40], "gender": ["F", "M"]}))
    """

    def __init__(
        self,
        optimizer: Any,
        *,
        sensitive_columns: tuple[str, ...],
        feature_columns: tuple[str, ...] | None,
        classes: np.ndarray,
        groups: tuple[str, ...],
        constraint: str,
        objective: str,
        random_state: int | None = 0,
    ) -> None:
        self.optimizer = optimizer
        self.sensitive_columns = tuple(sensitive_columns)
        self.feature_columns = None if feature_columns is None else tuple(feature_columns)
        self.classes_ = np.asarray(classes)
        self.groups_ = tuple(groups)
        self.constraint = constraint
        self.objective = objective
        self.random_state = random_state

    @property
    def base_model(self) -> Any:
        """The wrapped (original) classifier."""
        return self.optimizer.estimator_

    def predict(self, X: Any) -> np.ndarray:
        """Labels (in ``classes_``) after the per-group thresholds; ``X`` must hold the sensitive columns."""
        features, groups = self._split(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # sklearn's feature-name chatter
            picked = self.optimizer.predict(features, sensitive_features=groups, random_state=self.random_state)
        return self.classes_[np.asarray(picked, dtype=int)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)``: the chance the randomised rule predicts each class. Not a calibrated probability."""
        features, groups = self._split(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(self.optimizer._pmf_predict(features, sensitive_features=groups))

    def __repr__(self) -> str:
        return (
            f"MitigatedModel({type(self.base_model).__name__}, constraint={self.constraint!r}, "
            f"sensitive_columns={list(self.sensitive_columns)!r})"
        )

    def _split(self, X: Any) -> tuple[Any, pd.Series]:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        for column in (*self.sensitive_columns, *(self.feature_columns or ())):
            if column not in frame.columns:
                role = "sensitive column" if column in self.sensitive_columns else "feature column"
                raise SchemaMismatchError(
                    f"input is missing {role} '{column}'; a fairness-mitigated model needs "
                    f"{list(self.sensitive_columns)} at prediction time, beside the model's features",
                    column=column,
                )
        groups = _group_keys(frame[list(self.sensitive_columns)])
        unseen = sorted(set(groups.unique()) - set(self.groups_))
        if unseen:
            raise InvalidInputError(
                f"group(s) {unseen[:5]} of {list(self.sensitive_columns)} were not seen when the thresholds were "
                f"fitted (known: {list(self.groups_)[:10]}); refit the mitigation on data that includes them."
            )
        cols = list(self.feature_columns) if self.feature_columns is not None else list(frame.columns)
        return _base_features(self.base_model, frame, cols), groups


@dataclass(frozen=True)
class MitigatedVersion(ResultMixin):
    """What :func:`register_mitigated` registered, with the fairness gap before and after on the given data."""

    model_version: ModelVersion
    derived_from: str
    run_id: str
    constraint: str
    objective: str
    sensitive_columns: tuple[str, ...]
    n_rows: int
    demographic_parity_before: float
    demographic_parity_after: float
    equalized_odds_before: float
    equalized_odds_after: float
    accuracy_before: float
    accuracy_after: float

    def summary(self) -> str:
        return (
            f"Registered {self.model_version.uri}, a {self.constraint.replace('_', ' ')} mitigation of "
            f"{self.derived_from} by {', '.join(self.sensitive_columns)}. On {self.n_rows:,} rows the "
            f"demographic-parity difference went from {self.demographic_parity_before:.3f} to "
            f"{self.demographic_parity_after:.3f} and accuracy from {self.accuracy_before:.1%} to "
            f"{self.accuracy_after:.1%}. It needs {', '.join(self.sensitive_columns)} at prediction time "
            "and loads only with trusted=True (pickle)."
        )


def mitigate(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    sensitive_features: Any,
    constraint: str = "demographic_parity",
    objective: str = "accuracy_score",
    prefit: bool = True,
    *,
    feature_columns: list[str] | None = None,
    predict_method: str = "auto",
    grid_size: int = 1000,
    random_state: int | None = 0,
) -> MitigatedModel:
    """Fit per-group thresholds on ``model`` so that ``constraint`` holds on ``(X, y)``.

    ``sensitive_features``: column name(s) of ``X``, or a Series / DataFrame / array aligned with ``X``
    (then named after the Series or DataFrame columns, else ``"sensitive"``); ``predict`` will look for
    those names. ``feature_columns`` are what the base model gets (default: its ``feature_names_in_``, else
    the columns of ``X``). ``y`` holds the base model's classes (the second of ``classes_`` is positive)
    or 0/1. Fit on held-out data, not the training set, for thresholds that generalise.

    Example::

        mitigated = mitigate(clf, X_val, y_val, "gender", constraint="equalized_odds")
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in CONSTRAINTS:
        raise InvalidInputError(
            f"The 'constraint' parameter of mitigate must be one of {list(CONSTRAINTS)}. Got {constraint!r}."
        )
    if objective not in OBJECTIVES:
        raise InvalidInputError(
            f"The 'objective' parameter of mitigate must be one of {list(OBJECTIVES)}. Got {objective!r}."
        )
    frame, sensitive = _with_sensitive(X, sensitive_features)
    classes = np.asarray(getattr(model, "classes_", np.array([0, 1])))
    if classes.shape != (2,):
        raise InvalidInputError(f"mitigate needs a binary classifier; the model has classes {list(classes)}.")
    labels = _series(y, len(frame))
    if labels.isna().any():
        raise InvalidInputError(f"y has {int(labels.isna().sum())} missing value(s); drop those rows first.")
    unknown = sorted({str(v) for v in labels.unique()} - {str(c) for c in classes})
    if unknown:
        raise InvalidInputError(f"y holds {unknown[:5]}, not among the model's classes {list(classes)}.")
    target = (labels.astype(str).to_numpy() == str(classes[1])).astype(int)
    if feature_columns is None:
        names = getattr(model, "feature_names_in_", None)
        feature_columns = [str(c) for c in names] if names is not None else [c for c in X.columns]
    groups = _group_keys(frame[sensitive])
    optimizer = ThresholdOptimizer(
        estimator=model,
        constraints=constraint,
        objective=objective,
        prefit=prefit,
        predict_method=predict_method,
        grid_size=grid_size,
    )
    features = _base_features(model, frame, list(feature_columns))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            optimizer.fit(features, target, sensitive_features=groups)
    except ValueError as exc:  # sklearn's NotFittedError is a ValueError too
        hint = " Fit the model first, or pass prefit=False." if "not fitted" in str(exc) else ""
        raise InvalidInputError(f"the thresholds could not be fitted: {exc}{hint}") from exc
    return MitigatedModel(
        optimizer,
        sensitive_columns=tuple(sensitive),
        feature_columns=tuple(feature_columns),
        classes=classes,
        groups=tuple(sorted(groups.unique())),
        constraint=constraint,
        objective=objective,
        random_state=random_state,
    )


def register_mitigated(
    client: Any,
    source_uri: str,
    X: pd.DataFrame,
    y: Any,
    sensitive_features: Any,
    name: str | None = None,
    *,
    constraint: str = "demographic_parity",
    objective: str = "accuracy_score",
    trusted: bool = False,
    description: str | None = None,
    project: str | None = None,
    random_state: int | None = 0,
) -> MitigatedVersion:
    """Load ``source_uri``, mitigate it on ``(X, y)`` and register the result as a new version.

    The new version belongs to ``name`` (default: the source model's name) and is logged from a run of its
    own (project: the source run's) with param ``derived_from`` (the resolved ``models:/NAME/VERSION``),
    tags ``assay.derived_from`` / ``assay.derived_from_run``, the data as a ``mitigation`` input, the gaps
    before and after as metrics, and a ``model.derive`` event. ``trusted`` is passed to the source's load.

    Example::

        result = register_mitigated(client, "models:/churn/3", X_val, y_val, "gender")
        result.model_version.version  # e.g. 4
    """
    from assay.store import runs as rq
    from assay.tracking.environment import current_user

    _, source, _ = client.registry.resolve(source_uri)
    derived_from = source.uri if source is not None else source_uri
    name = name or (source.name if source is not None else None)
    if not name:
        raise InvalidInputError(f"{source_uri} is not a registered version; pass name= for the new model.")
    predictor = client.load_model(source_uri, trusted=trusted)
    if getattr(predictor, "is_booster", False):
        raise InvalidInputError(f"{derived_from} is a raw booster; mitigation needs a scikit-learn-style classifier.")
    mitigated = mitigate(predictor.model, X, y, sensitive_features, constraint, objective, random_state=random_state)
    frame, sensitive = _with_sensitive(X, sensitive_features)
    inputs = frame[list(dict.fromkeys([*(mitigated.feature_columns or ()), *sensitive]))]
    labels = _series(y, len(frame))
    before = np.asarray(
        mitigated.base_model.predict(_base_features(mitigated.base_model, frame, list(mitigated.feature_columns or ())))
    )
    after = mitigated.predict(inputs)
    gaps = {
        k: _gaps(labels, v, frame[sensitive], mitigated.classes_[1]) for k, v in (("before", before), ("after", after))
    }
    if project is None and source is not None and source.run_id:
        project = client.run_info(source.run_id)["project"]
    text = (
        f"Fairness-mitigated ({constraint}, objective {objective}) version of {derived_from}: fairlearn "
        f"ThresholdOptimizer per-group thresholds. Needs column(s) {sensitive} in the input at prediction time. "
        "Stored with pickle: load with trusted=True."
    )
    tags = {"assay.derived_from": derived_from, "assay.kind": "fairness_mitigation"}
    if source is not None and source.run_id:
        tags["assay.derived_from_run"] = source.run_id
    with client.start_run(project=project or "default", name=f"mitigate-{name}", tags=tags) as run:
        run.log_params(
            {
                "derived_from": derived_from,
                "constraint": constraint,
                "objective": objective,
                "sensitive_features": ",".join(sensitive),
                "random_state": random_state,
            }
        )
        run.log_dataset(inputs.assign(**{"__label__": labels.to_numpy()}), role="mitigation")
        run.log_metrics({f"{m}_{when}": v for when, g in gaps.items() for m, v in g.items() if np.isfinite(v)})
        version = run.log_model(
            mitigated,
            name,
            input_example=inputs.head(5),
            description=f"{description}\n\n{text}" if description else text,
        )
        payload = {"derived_from": derived_from, "run_id": run.id, "constraint": constraint, "sensitive": sensitive}
        client.db.retrying_write(
            lambda conn: rq.append_event(
                conn,
                actor=current_user(),
                action="model.derive",
                entity_type="model_version",
                entity_id=f"{name}/{version.version}",
                payload=payload,
            )
        )
    return MitigatedVersion(
        model_version=version,
        derived_from=derived_from,
        run_id=run.id,
        constraint=constraint,
        objective=objective,
        sensitive_columns=tuple(sensitive),
        n_rows=len(frame),
        demographic_parity_before=gaps["before"]["demographic_parity_difference"],
        demographic_parity_after=gaps["after"]["demographic_parity_difference"],
        equalized_odds_before=gaps["before"]["equalized_odds_difference"],
        equalized_odds_after=gaps["after"]["equalized_odds_difference"],
        accuracy_before=gaps["before"]["accuracy"],
        accuracy_after=gaps["after"]["accuracy"],
    )


# -- helpers -------------------------------------------------------------------------------------


def _with_sensitive(X: Any, sensitive_features: Any) -> tuple[pd.DataFrame, list[str]]:
    """``X`` with the sensitive columns in it (added when given as values), and their names."""
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError(
            "X must be a pandas DataFrame with named columns: the mitigated model finds the sensitive "
            f"column(s) in its input by name. Got {type(X).__name__}."
        )
    frame = X.reset_index(drop=True)
    if isinstance(sensitive_features, str) or (
        isinstance(sensitive_features, list | tuple)
        and sensitive_features
        and all(isinstance(s, str) for s in sensitive_features)
    ):
        names = [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise SchemaMismatchError(
                f"sensitive column {missing[0]!r} is not a column of X; X has {list(frame.columns)[:20]}",
                column=missing[0],
            )
        return frame, names
    if isinstance(sensitive_features, pd.DataFrame):
        extra = sensitive_features.reset_index(drop=True)
    elif isinstance(sensitive_features, pd.Series):
        extra = sensitive_features.reset_index(drop=True).to_frame(sensitive_features.name or "sensitive")
    else:
        arr = np.asarray(sensitive_features, dtype=object)
        if arr.ndim != 1:
            raise InvalidInputError(
                "sensitive_features given as an array must be one-dimensional; use a DataFrame for several."
            )
        extra = pd.DataFrame({"sensitive": arr})
    extra.columns = [str(c) for c in extra.columns]
    if len(extra) != len(frame):
        raise InvalidInputError(f"sensitive_features has {len(extra)} rows but X has {len(frame)}; they must align.")
    clash = [c for c in extra.columns if c in frame.columns]
    if clash:
        raise InvalidInputError(
            f"X already has a column {clash[0]!r}; pass sensitive_features={clash[0]!r} (the name) instead."
        )
    return pd.concat([frame, extra], axis=1), list(extra.columns)


def _group_keys(frame: pd.DataFrame) -> pd.Series:
    """One text key per row (``"F & black"`` for several columns), missing values as ``(missing)``."""
    text = frame.astype(str).astype(object).mask(frame.isna(), MISSING_GROUP)
    keys = text.iloc[:, 0]
    if text.shape[1] > 1:
        keys = keys.str.cat([text[c] for c in text.columns[1:]], sep=" & ")
    return keys.reset_index(drop=True).rename("group")


def _base_features(model: Any, frame: pd.DataFrame, columns: list[str]) -> Any:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaMismatchError(f"X lacks feature column {missing[0]!r} the model was fitted on", column=missing[0])
    features = frame[columns]  # as a plain array for a model fitted on one (it would warn about names)
    return (
        features.to_numpy()
        if hasattr(model, "n_features_in_") and not hasattr(model, "feature_names_in_")
        else features
    )


def _series(y: Any, n: int) -> pd.Series:
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    arr = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise InvalidInputError(f"y must hold one label per row of X ({n} rows); got shape {arr.shape}.")
    return pd.Series(arr)


def _gaps(labels: pd.Series, predicted: np.ndarray, sensitive: pd.DataFrame, positive: Any) -> dict[str, float]:
    truth = (labels.astype(str).to_numpy() == str(positive)).astype(int)
    pred = (pd.Series(predicted).astype(str).to_numpy() == str(positive)).astype(int)
    report = fairness(truth, pred, _group_keys(sensitive), min_group_size=1, n_bootstrap=0)
    return {
        "demographic_parity_difference": report.demographic_parity_difference,
        "equalized_odds_difference": report.equalized_odds_difference,
        "accuracy": float(np.mean(truth == pred)),
    }
