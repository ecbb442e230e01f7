"""Additive feature contributions: native tree SHAP, exact linear attributions, and model-agnostic Shapley.

Every function returns contributions ``(n_rows, n_features)``, a base value and the raw output, with
``base + contributions.sum(axis=1) == raw`` (exactly for the linear and Shapley methods, to the
library's float precision for the tree methods).
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError
from assay.governance._explain_models import (
    ModelInfo,
    booster,
    call_model,
    class_column,
    feed,
    pick,
    raw_output,
    xgb_predict,
)

EXACT_MAX_FEATURES = 8  # 2^8 = 256 coalitions per row; beyond that, sampled permutations
_EVAL_CHUNK = 200_000  # model evaluations per predict call in the Shapley fallback
_ONE_TO_ONE = {
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "SimpleImputer",
    "OrdinalEncoder",
    "QuantileTransformer",
    "PowerTransformer",
    "KNNImputer",
    "IterativeImputer",
}


def tree_contributions(
    info: ModelInfo, frame: pd.DataFrame, class_index: int | None, *, all_classes: bool = False
) -> tuple[np.ndarray, float, np.ndarray]:
    """LightGBM ``pred_contrib`` / XGBoost ``pred_contribs``: per-feature contributions plus a bias column.

    With ``all_classes`` and no ``class_index``, a multiclass model gives the sum over classes of the
    absolute contributions (for global importance) and a NaN base.
    """
    p = frame.shape[1]
    if info.kind == "lightgbm":
        b, data = booster(info), feed(info, frame)
        contrib = call_model(info, frame, b.predict, data, pred_contrib=True)
        contrib = np.asarray(contrib.toarray() if hasattr(contrib, "toarray") else contrib, dtype=float)
        raw = np.asarray(call_model(info, frame, b.predict, data, raw_score=True), dtype=float)
        if contrib.shape[1] != p + 1:
            contrib = contrib.reshape(len(frame), -1, p + 1)
    else:
        contrib = xgb_predict(info, frame, pred_contribs=True)
        raw = xgb_predict(info, frame, output_margin=True)
    if contrib.ndim == 3:
        if class_index is None and all_classes:
            return np.abs(contrib[:, :, :-1]).sum(axis=1), float("nan"), raw
        k, sign = class_column(info, contrib.shape[1], class_index)
        contrib = contrib[:, k, :]
    else:
        k, sign = class_column(info, 1, class_index)
    contrib = sign * contrib
    return contrib[:, :-1], float(contrib[:, -1].mean()), pick(info, raw, class_index)


def linear_contributions(
    info: ModelInfo, frame: pd.DataFrame, background: pd.DataFrame, class_index: int | None
) -> tuple[np.ndarray, float, np.ndarray, tuple[str, ...], np.ndarray, str]:
    """``coef × (z − mean z of background)`` for a linear model or a Pipeline ending in one.

    Returns contributions, base, raw output, feature names, feature values and the feature space
    (``"input"`` when every transformed column maps back to one input column, else ``"transformed"``).
    """
    est = info.est
    steps = getattr(est, "steps", None)
    if isinstance(steps, list):
        pre, lin = est[:-1], steps[-1][1]
        z = _dense(call_model(info, frame, pre.transform, feed(info, frame)), "the transformed X")
        zb = _dense(call_model(info, background, pre.transform, feed(info, background)), "the transformed background")
    else:
        pre, lin = None, est
        z, zb = _dense(feed(info, frame), "X"), _dense(feed(info, background), "background")
    for name, values, source in (("X", z, frame), ("background", zb, background)):
        if np.isnan(values).any():
            cols = [str(c) for c in source.columns if source[c].isna().any()]
            raise InvalidInputError(
                f"{name} has missing values that {info.label} cannot take (columns {cols[:20]}); impute them "
                "(e.g. a SimpleImputer step in the pipeline) or drop those rows."
            )
    coef = np.atleast_2d(np.asarray(lin.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(lin.intercept_, dtype=float))
    k, sign = class_column(info, coef.shape[0], class_index)
    weights, b0 = sign * coef[k], sign * intercept[k if len(intercept) > 1 else 0]
    mean = zb.mean(axis=0)
    contrib = (z - mean) * weights
    base = float(b0 + mean @ weights)
    raw = raw_output(info, frame, class_index)
    names, values, space = tuple(map(str, frame.columns)), frame.to_numpy(dtype=object), "input"
    if pre is not None:
        sources = column_sources(pre, frame.shape[1])
        if sources is not None and len(sources) == z.shape[1]:
            onto = np.zeros((z.shape[1], frame.shape[1]))
            onto[np.arange(z.shape[1]), sources] = 1.0
            contrib = contrib @ onto
        else:
            names, values, space = _output_names(pre, z.shape[1]), z.astype(object), "transformed"
    return contrib, base, raw, names, values, space


def column_sources(step: Any, n_in: int) -> list[int] | None:
    """For each output column of a fitted transformer, the index of the one input column it comes from.

    ``None`` when some output depends on several inputs (PCA, polynomial features) or the transformer
    is unknown. Known: scalers, imputers (and their missing-value indicators), ordinal and one-hot encoders, any
    transformer of a single column, Pipelines and ColumnTransformers built from those.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return list(range(n_in))
    if isinstance(step, Pipeline):
        sources: list[int] | None = list(range(n_in))
        for _, inner in step.steps:
            mapped = column_sources(inner, len(sources))
            if mapped is None:
                return None
            sources = [sources[i] for i in mapped]
        return sources
    if isinstance(step, ColumnTransformer):
        return _column_transformer_sources(step)
    name = type(step).__name__
    if name == "OneHotEncoder":
        counts = getattr(step, "_n_features_outs", None)
        return (
            [i for i, c in enumerate(counts) for _ in range(c)] if counts is not None and len(counts) == n_in else None
        )
    indicator = getattr(step, "indicator_", None)  # imputer's missing-value flags: one per flagged input column
    extra = [int(i) for i in indicator.features_] if indicator is not None else []
    if name in _ONE_TO_ONE:
        try:
            n_out = len(step.get_feature_names_out())
        except (AttributeError, ValueError, TypeError):
            n_out = n_in
        return list(range(n_in)) + extra if n_out == n_in + len(extra) else None
    return None


def _column_transformer_sources(ct: Any) -> list[int] | None:
    inputs_of = getattr(ct, "_transformer_to_input_indices", None)
    slices = getattr(ct, "output_indices_", None)
    if inputs_of is None or slices is None:
        return None
    out: dict[int, int] = {}
    for name, trans, _ in ct.transformers_:
        sl = slices.get(name)
        if sl is None or sl.stop == sl.start or (isinstance(trans, str) and trans == "drop"):
            continue
        inputs = [int(i) for i in inputs_of[name]]
        mapped = [0] * (sl.stop - sl.start) if len(inputs) == 1 else column_sources(trans, len(inputs))
        if mapped is None or len(mapped) != sl.stop - sl.start:
            return None
        out.update({pos: inputs[i] for pos, i in zip(range(sl.start, sl.stop), mapped, strict=True)})
    total = max((s.stop for s in slices.values()), default=0)
    return [out[i] for i in range(total)] if len(out) == total else None


def shapley_contributions(
    info: ModelInfo,
    frame: pd.DataFrame,
    background: pd.DataFrame,
    class_index: int | None,
    *,
    n_permutations: int,
    seed: int,
) -> tuple[np.ndarray, float, np.ndarray, str]:
    """Interventional Shapley values of the raw output against ``background``.

    The value of a coalition S for row x is the mean over background rows b of f(x_S, b_rest). Up to
    :data:`EXACT_MAX_FEATURES` features all 2^p coalitions are evaluated (exact Shapley values);
    beyond, ``n_permutations`` random feature orders (half of them the reverse of the other half) are
    walked and each feature gets its average marginal contribution. In both cases the contributions add
    up to f(x) − mean f(background), because each walk telescopes from the empty to the full coalition.
    """
    n, p = frame.shape

    def value(df: pd.DataFrame) -> np.ndarray:
        return raw_output(info, df, class_index)

    if p <= EXACT_MAX_FEATURES:
        masks = ((np.arange(2**p)[:, None] >> np.arange(p)) & 1).astype(bool)
        v = _coalition_values(value, frame, background, masks)
        sizes = masks.sum(axis=1)
        weights = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)])
        contrib = np.empty((n, p))
        for j in range(p):
            without = np.flatnonzero(~masks[:, j])
            contrib[:, j] = (v[:, without | (1 << j)] - v[:, without]) @ weights[sizes[without]]
        return contrib, float(v[0, 0]), v[:, -1], "exact-shapley"
    rng = np.random.default_rng(seed)
    half = [rng.permutation(p) for _ in range((n_permutations + 1) // 2)]
    orders = np.array(half + [o[::-1] for o in half])
    m = len(orders)
    masks = np.zeros((m, p + 1, p), dtype=bool)
    for i, order in enumerate(orders):
        for k in range(1, p + 1):
            masks[i, k, order[:k]] = True
    v = _coalition_values(value, frame, background, masks.reshape(-1, p)).reshape(n, m, p + 1)
    steps = np.diff(v, axis=2)  # (n, m, p): marginal contribution of the k-th feature of each order
    contrib = np.zeros((n, p))
    for i, order in enumerate(orders):
        contrib[:, order] += steps[:, i, :]
    return contrib / m, float(v[0, 0, 0]), v[:, 0, -1], "sampled-shapley"


def _coalition_values(value: Any, frame: pd.DataFrame, background: pd.DataFrame, masks: np.ndarray) -> np.ndarray:
    """(n_rows, n_coalitions): mean over background rows of the model on x where mask, background elsewhere."""
    n, nb, c = len(frame), len(background), len(masks)
    both = pd.concat([background, frame.reset_index(drop=True)], ignore_index=True)
    arrays = [both[col].array for col in frame.columns]
    per_chunk = max(1, _EVAL_CHUNK // (c * nb))
    out = np.empty((n, c))
    for start in range(0, n, per_chunk):
        rows = np.arange(start, min(n, start + per_chunk))
        hybrid = {}
        for j, col in enumerate(frame.columns):
            idx = np.where(masks[None, :, j, None], (nb + rows)[:, None, None], np.arange(nb)[None, None, :])
            hybrid[col] = arrays[j].take(idx.reshape(-1))
        values = value(pd.DataFrame(hybrid, columns=frame.columns))
        out[rows] = values.reshape(len(rows), c, nb).mean(axis=2)
    return out


def _dense(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "toarray"):
        values = values.toarray()
    try:
        return np.asarray(values, dtype=float)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"{what} is not all numeric ({exc}); encode text columns before a linear model."
        ) from exc


def _output_names(pre: Any, width: int) -> tuple[str, ...]:
    try:
        names = [str(n) for n in pre.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        names = []
    return tuple(names) if len(names) == width else tuple(f"z{i}" for i in range(width))
