"""Why a model predicts what it does: global importance, per-row contributions, stored with the version.

- :func:`importance`: which features matter overall (permutation importance for any model, or the mean size
  of LightGBM/XGBoost's exact tree contributions), plus partial-dependence curves for the top features.
- :func:`explain`: how much each feature moved each row's raw output. ``base_value + contributions.sum(1)``
  equals the raw output exactly (log-odds for binary classifiers, the raw score for regressors):

  ==============================  ========================================================================
  model                           method
  ==============================  ========================================================================
  LightGBM (Booster or sklearn)   native TreeSHAP, ``predict(X, pred_contrib=True)``
  XGBoost (Booster or sklearn)    native TreeSHAP, ``Booster.predict(DMatrix, pred_contribs=True)``
  sklearn linear model, or a      ``coef × (x − mean of background)``; through a Pipeline the transformed
  Pipeline ending in one          columns are summed back onto the input column each comes from (scalers,
                                  imputers, one-hot encoders, any transformer of a single column), else
                                  transformed column names are reported
  anything else                   interventional Shapley values on a background sample: exact over all
                                  2^p coalitions for p ≤ 8 features, else sampled permutations in
                                  antithetic pairs. Either way the contributions add up exactly to
                                  f(x) − mean f(background). Cost: rows × 2^p × n_background model
                                  evaluations (exact) or rows × n_permutations × (p+1) × n_background
                                  (sampled); ``max_rows`` caps the rows.
  ==============================  ========================================================================

- :func:`explain_version` / :func:`load_explanation`: compute the global picture for a registered version
  and store it as JSON with the version's run, where it can be found again.

An assay :class:`~assay.registry.predictor.Predictor` is unwrapped to its ``.model``; its signature validates
and orders the input columns. Heavy compute here is model scoring, so it runs in memory on the rows given.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError, NotFoundError
from assay.governance._explain_contrib import linear_contributions, shapley_contributions, tree_contributions
from assay.governance._explain_global import PartialDependence, check_labels, partial_dependence, permutation
from assay.governance._explain_models import ModelInfo, model_frame, output_scale, resolve_model
from assay.results import ResultMixin

__all__ = [
    "GlobalExplanation",
    "LocalExplanation",
    "PartialDependence",
    "VersionExplanation",
    "explain",
    "explain_version",
    "importance",
    "load_explanation",
]

_SCORE_WORDS = {
    "roc_auc": "ROC AUC",
    "average_precision": "average precision",
    "neg_log_loss": "log loss",
    "r2": "R²",
    "neg_mean_squared_error": "mean squared error",
    "neg_root_mean_squared_error": "root mean squared error",
    "neg_mean_absolute_error": "mean absolute error",
}
_METHOD_WORDS = {
    "permutation": "how much {score} worsens when a feature's values are shuffled",
    "tree": "the average size of a feature's contribution to the {score}",
}


@dataclass(frozen=True)
class GlobalExplanation(ResultMixin):
    """Feature importance for a whole data set; ``features`` are ordered most important first."""

    model: str
    method: str  # "permutation" | "tree"
    score: str  # what importance is measured in: a scorer name, or the raw output's scale
    features: tuple[str, ...]
    importances: tuple[float, ...]
    std: tuple[float, ...]  # permutation: std over repeats; tree: standard error of the mean
    n_rows: int
    n_repeats: int = 0
    baseline_score: float = math.nan
    partial_dependence: tuple[PartialDependence, ...] = ()
    pd_output: str = ""  # "probability" | "prediction": what partial_dependence averages

    def summary(self) -> str:
        frame = self.to_frame()
        top = frame.head(3)
        shares = [f"{r.feature} ({r.share:.0%})" for r in top.itertuples() if r.share > 0]
        if not shares:
            lead = "No feature makes a measurable difference to the predictions."
        else:
            shares[0] = shares[0].replace("%)", "% of total importance)")
            lead = f"Predictions lean most on {shares[0]}" + (f", then {_join(shares[1:])}." if shares[1:] else ".")
        how = _METHOD_WORDS[self.method].format(score=_SCORE_WORDS.get(self.score, self.score))
        extra = (
            f", baseline {self.baseline_score:.3g}, {self.n_repeats} repeats" if self.method == "permutation" else ""
        )
        text = f"{lead} Importance is {how} ({self.n_rows:,} rows{extra})."
        weak = int((~frame["measurable"]).sum())
        if weak:
            verb = "makes" if weak == 1 else "make"
            text += f" {weak} of {len(frame)} features {verb} no measurable difference."
        for pdp in self.partial_dependence[:1]:
            if pdp.kind == "numeric" and len(pdp.grid) > 1:
                text += (
                    f" As {pdp.feature} goes from {_fmt(pdp.grid[0])} to {_fmt(pdp.grid[-1])}, the average "
                    f"predicted {self.pd_output} goes from {_fmt(pdp.average[0])} to {_fmt(pdp.average[-1])}."
                )
        return text

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: rank, importance, std, share of the total positive importance, measurable."""
        imp, std = np.asarray(self.importances, float), np.asarray(self.std, float)
        total = np.clip(imp, 0, None).sum()
        share = np.clip(imp, 0, None) / total if total > 0 else np.zeros_like(imp)
        measurable = (imp > 2 * std) & (share >= 0.01) if self.method == "permutation" else share >= 0.01
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(imp) + 1),
                "feature": list(self.features),
                "importance": imp,
                "std": std,
                "share": share,
                "measurable": measurable,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GlobalExplanation:
        """Rebuild from :meth:`to_dict` output (as stored by :func:`explain_version`)."""
        try:
            pdps = tuple(
                PartialDependence(p["feature"], p["kind"], tuple(p["grid"]), tuple(_num(v) for v in p["average"]))
                for p in data.get("partial_dependence") or ()
            )
            return cls(
                model=data["model"],
                method=data["method"],
                score=data["score"],
                features=tuple(data["features"]),
                importances=tuple(_num(v) for v in data["importances"]),
                std=tuple(_num(v) for v in data["std"]),
                n_rows=int(data["n_rows"]),
                n_repeats=int(data.get("n_repeats", 0)),
                baseline_score=_num(data.get("baseline_score")),
                partial_dependence=pdps,
                pd_output=data.get("pd_output", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a stored global explanation ({exc!r}); it may be from another tool") from exc


@dataclass(frozen=True, eq=False)
class LocalExplanation(ResultMixin):
    """Per-row, per-feature contributions: ``base_value + contributions[i].sum() == predictions[i]``."""

    model: str
    method: str  # "lightgbm-tree" | "xgboost-tree" | "linear" | "exact-shapley" | "sampled-shapley"
    output: str  # the scale contributions are on: "log-odds", "raw score", "prediction", ...
    features: tuple[str, ...]
    contributions: np.ndarray  # (n_rows, n_features)
    base_value: float
    predictions: np.ndarray  # raw model output per row
    values: np.ndarray  # feature values per row (object array), for phrases
    index: tuple[Any, ...]
    feature_space: str = "input"  # "input" or "transformed" (pipeline columns that map to no single input)
    n_background: int = 0

    def summary(self) -> str:
        top = self.mean_abs().head(3)
        effects = _join([f"{name} ({value:.3g})" for name, value in top.items()])
        how = {
            "lightgbm-tree": "LightGBM's exact tree contributions",
            "xgboost-tree": "XGBoost's exact tree contributions",
            "linear": f"coefficient × distance from the mean of {self.n_background:,} background rows",
            "exact-shapley": f"exact Shapley values against {self.n_background:,} background rows",
            "sampled-shapley": f"sampled Shapley values against {self.n_background:,} background rows",
        }.get(self.method, self.method)
        return (
            f"Explained {len(self.index):,} rows of {self.model} with {how}, on the {self.output} scale: each "
            f"prediction is the base value {self.base_value:.3g} plus one contribution per feature, adding up "
            f"exactly. Largest average effects: {effects}."
        )

    def mean_abs(self) -> pd.Series:
        """Mean absolute contribution per feature, largest first."""
        values = np.abs(self.contributions).mean(axis=0)
        return pd.Series(values, index=list(self.features), name="mean_abs_contribution").sort_values(ascending=False)

    def to_frame(self, long: bool = False) -> pd.DataFrame:
        """Contributions as rows × features (index = the input's row labels), or long: row, feature, value, ..."""
        wide = pd.DataFrame(self.contributions, columns=list(self.features), index=list(self.index))
        if not long:
            return wide
        n, p = self.contributions.shape
        return pd.DataFrame(
            {
                "row": np.repeat(np.asarray(self.index, dtype=object), p),
                "feature": list(self.features) * n,
                "value": self.values.reshape(-1),
                "contribution": self.contributions.reshape(-1),
            }
        )


@dataclass(frozen=True)
class VersionExplanation(ResultMixin):
    """An explanation stored with a registered model version (see :func:`explain_version`)."""

    name: str
    version: int
    run_id: str
    artifact_path: str
    created_at: str
    importance: GlobalExplanation
    local: dict[str, Any] | None = None  # mean |contribution| per feature, base value, method, output

    def summary(self) -> str:
        return f"{self.name} v{self.version} (explained {self.created_at[:16]} UTC): {self.importance.summary()}"


# -- public functions ------------------------------------------------------------------------------


def explain(
    model: Any,
    X: Any,
    *,
    method: str = "auto",
    background: Any = None,
    class_index: int | None = None,
    n_background: int = 50,
    n_permutations: int = 10,
    max_rows: int = 500,
    random_state: int = 0,
) -> LocalExplanation:
    """Per-row feature contributions that add up exactly to the model's raw output.

    ``method``: ``"auto"`` (tree for LightGBM/XGBoost, linear for sklearn linear models and pipelines ending
    in one, else Shapley), ``"tree"``, ``"linear"`` or ``"shapley"`` (any model). ``background`` (default:
    ``X`` itself, sampled to ``n_background`` rows for Shapley) is the reference the linear and Shapley
    contributions are measured from: to explain a handful of rows, pass a representative background (e.g. a
    training sample), else the rows are compared with themselves. ``class_index`` picks the class of a
    multiclass model (for binary, ``0`` explains the negative class). Shapley refuses more than ``max_rows``
    rows (see the module doc for its cost): pass a sample.

    Example::

        exp = explain(model, X_test.head(200))
        exp.to_frame()            # rows × features
        exp.base_value + exp.contributions.sum(axis=1)  # == raw output (log-odds)
    """
    info = resolve_model(model)
    frame = model_frame(info, X)
    chosen = _local_method(info, method)
    bg = frame if background is None else model_frame(info, background, what="background")
    if chosen == "tree":
        contrib, base, raw = tree_contributions(info, frame, class_index)
        chosen = f"{info.kind}-tree"
        names, values, space, nb = tuple(map(str, frame.columns)), frame.to_numpy(dtype=object), "input", 0
    elif chosen == "linear":
        contrib, base, raw, names, values, space = linear_contributions(info, frame, bg, class_index)
        nb = len(bg)
    else:
        _check_int(max_rows, "max_rows", 1)
        _check_int(n_background, "n_background", 1)
        _check_int(n_permutations, "n_permutations", 2)
        if len(frame) > max_rows:
            raise InvalidInputError(
                f"Shapley explanations cost about {2 ** min(frame.shape[1], 8) * n_background:,} model "
                f"evaluations per row; X has {len(frame):,} rows, over max_rows={max_rows}. Pass a sample "
                "(X.sample(n)) or raise max_rows."
            )
        if len(bg) > n_background:
            bg = bg.sample(n_background, random_state=random_state)
        contrib, base, raw, chosen = shapley_contributions(
            info, frame, bg.reset_index(drop=True), class_index, n_permutations=n_permutations, seed=random_state
        )
        names, values, space, nb = tuple(map(str, frame.columns)), frame.to_numpy(dtype=object), "input", len(bg)
    return LocalExplanation(
        model=info.label,
        method=chosen,
        output=output_scale(info, chosen),
        features=tuple(names),
        contributions=contrib,
        base_value=float(base),
        predictions=raw,
        values=values,
        index=tuple(frame.index),
        feature_space=space,
        n_background=nb,
    )


def importance(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    method: str = "auto",
    scoring: Any = None,
    n_repeats: int = 5,
    random_state: int = 0,
    top_k: int = 3,
    grid_resolution: int = 20,
    max_rows: int = 10_000,
    class_index: int | None = None,
) -> GlobalExplanation:
    """Which features matter overall, plus partial dependence for the ``top_k`` most important.

    ``method``: ``"permutation"`` (any model; needs ``y``; ``scoring`` a name such as ``"roc_auc"``, ``"r2"``,
    ``"neg_log_loss"`` or an sklearn scorer callable; default ROC AUC for binary, log loss for multiclass, R² for
    regression), ``"tree"`` (LightGBM/XGBoost: mean |contribution|, no labels needed) or ``"auto"`` (tree when
    possible and ``y`` is missing, else permutation). Rows beyond ``max_rows`` are sampled (``n_rows`` says
    how many were used).

    Example::

        imp = importance(model, X_valid, y_valid)
        print(imp.summary()); imp.to_frame()
    """
    info = resolve_model(model)
    frame = model_frame(info, X)
    _check_int(n_repeats, "n_repeats", 1)
    _check_int(max_rows, "max_rows", 1)
    _check_int(top_k, "top_k", 0)
    _check_int(grid_resolution, "grid_resolution", 2)
    if method not in ("auto", "permutation", "tree"):
        raise InvalidInputError(
            f"The 'method' parameter of importance must be 'auto', 'permutation' or 'tree'. Got {method!r}."
        )
    is_tree = info.kind in ("lightgbm", "xgboost")
    if method == "auto":
        method = "tree" if is_tree and y is None else "permutation"
    if method == "tree" and not is_tree:
        raise InvalidInputError(
            f"method='tree' needs a LightGBM or XGBoost model; {info.label} is {info.kind!r}. Use method='permutation'."
        )
    labels = None if y is None else check_labels(y, frame)
    if len(frame) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[rows]
        labels = None if labels is None else labels.iloc[rows]
    if method == "tree":
        contrib, _, _ = tree_contributions(info, frame, class_index, all_classes=True)
        size = np.abs(contrib)
        imp, std = size.mean(axis=0), size.std(axis=0) / math.sqrt(len(frame))
        score, baseline = output_scale(info, "tree"), math.nan
    else:
        if labels is None:
            raise InvalidInputError("permutation importance compares predictions with labels: pass y (the outcome).")
        imp, std, score, baseline = permutation(model, info, frame, labels, scoring, n_repeats, random_state)
    order = np.argsort(-imp, kind="stable")
    features = tuple(str(frame.columns[i]) for i in order)
    pdps = tuple(partial_dependence(info, frame, f, grid_resolution, random_state) for f in features[:top_k])
    return GlobalExplanation(
        model=info.label,
        method=method,
        score=score,
        features=features,
        importances=tuple(float(v) for v in imp[order]),
        std=tuple(float(v) for v in std[order]),
        n_rows=len(frame),
        n_repeats=n_repeats if method == "permutation" else 0,
        baseline_score=baseline,
        partial_dependence=tuple(p for p in pdps if p is not None),
        pd_output="probability" if info.n_classes == 2 else "prediction",
    )


def explain_version(
    client: Any,
    uri: str,
    X: Any,
    y: Any = None,
    *,
    local: bool = False,
    trusted: bool = False,
    **kwargs: Any,
) -> VersionExplanation:
    """Compute :func:`importance` (and, with ``local=True``, a summary of :func:`explain`) for a registered
    version and store it as JSON in the version's run, at ``governance/explanations/<name>/v<version>.json``.

    ``kwargs`` go to :func:`importance`. Storing again replaces the previous explanation of that version; each
    store is recorded in the audit event log.

    Example::

        explain_version(client, "models:/churn/3", X_valid, y_valid)
        load_explanation(client, "models:/churn/3").importance.to_frame()
    """
    from assay.store import runs as rq
    from assay.tracking.environment import current_user

    client = _client(client)
    _, mv, _ = client.registry.resolve(uri)
    if mv is None or not mv.run_id:
        raise InvalidInputError(f"{uri} is not a registered version with a run; use models:/NAME/N or an alias.")
    predictor = client.load_model(uri, trusted=trusted)
    glob = importance(predictor, X, y, **kwargs)
    summary = None
    if local:
        frame = model_frame(resolve_model(predictor), X)
        sample = frame.sample(min(len(frame), 200), random_state=kwargs.get("random_state", 0))
        loc = explain(predictor, sample, class_index=kwargs.get("class_index"))
        summary = {
            "method": loc.method,
            "output": loc.output,
            "base_value": loc.base_value,
            "n_rows": len(loc.index),
            "mean_abs": loc.mean_abs().to_dict(),
            "mean": dict(zip(loc.features, loc.contributions.mean(axis=0).tolist(), strict=True)),
        }
    path = _artifact_path(mv.name, mv.version)
    result = VersionExplanation(
        name=mv.name,
        version=mv.version,
        run_id=mv.run_id,
        artifact_path=path,
        created_at=pd.Timestamp.now(tz="UTC").isoformat(),
        importance=glob,
        local=summary,
    )
    with tempfile.TemporaryDirectory(prefix="assay-explain-") as tmp:
        file = Path(tmp) / "explanation.json"
        file.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        client.log_artifact(mv.run_id, file, path)
    client.db.retrying_write(
        lambda conn: rq.append_event(
            conn,
            actor=current_user(),
            action="model.explain",
            entity_type="model_version",
            entity_id=f"{mv.name}/{mv.version}",
            payload={"run_id": mv.run_id, "path": path, "method": glob.method},
        )
    )
    return result


def load_explanation(client: Any, uri: str) -> VersionExplanation:
    """The explanation :func:`explain_version` stored for a version; :class:`NotFoundError` if there is none."""
    client = _client(client)
    _, mv, _ = client.registry.resolve(uri)
    if mv is None or not mv.run_id:
        raise InvalidInputError(f"{uri} is not a registered version with a run; use models:/NAME/N or an alias.")
    path = _artifact_path(mv.name, mv.version)
    found = {a["path"]: a["digest"] for a in client.list_artifacts(mv.run_id, f"governance/explanations/{mv.name}")}
    if path not in found:
        raise NotFoundError(
            f"{mv.name} v{mv.version} has no stored explanation; run explain_version(client, {mv.uri!r}, X, y) first."
        )
    try:
        data = json.loads(client.artifacts.get_bytes(found[path]).decode("utf-8"))
        return VersionExplanation(
            name=data["name"],
            version=int(data["version"]),
            run_id=data["run_id"],
            artifact_path=path,
            created_at=data["created_at"],
            importance=GlobalExplanation.from_dict(data["importance"]),
            local=data.get("local"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"the stored explanation of {mv.uri} at {path} is unreadable: {exc}") from exc


# -- helpers ---------------------------------------------------------------------------------------


def _local_method(info: ModelInfo, method: str) -> str:
    allowed = {"tree": ("lightgbm", "xgboost"), "linear": ("linear",)}
    if method == "auto":
        return next((m for m, kinds in allowed.items() if info.kind in kinds), "shapley")
    if method == "shapley":
        return method
    if method not in allowed:
        raise InvalidInputError(
            f"The 'method' parameter of explain must be 'auto', 'tree', 'linear' or 'shapley'. Got {method!r}."
        )
    if info.kind not in allowed[method]:
        raise InvalidInputError(
            f"method={method!r} does not apply to {info.label} ({info.kind} model); use 'auto' or 'shapley'."
        )
    return method


def _check_int(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidInputError(f"The '{name}' parameter must be an integer >= {low}. Got {value!r}.")


def _artifact_path(name: str, version: int) -> str:
    return f"governance/explanations/{name}/v{version}.json"


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
