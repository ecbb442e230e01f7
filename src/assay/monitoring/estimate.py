"""Label-free performance estimates: confidence-based performance estimation (CBPE).

When labels arrive late (or never), a classifier's own probabilities still say how often it should be right:
if a prediction with calibrated probability ``p`` is a positive with probability ``p``, then over a window

* ``E[TP] = Σ p`` over predicted positives (``score >= threshold``), ``E[FP] = Σ (1 − p)`` over them,
  ``E[FN] = Σ p`` and ``E[TN] = Σ (1 − p)`` over predicted negatives;
* expected accuracy, precision, recall and F1 follow from that expected confusion matrix (ratios of
  expectations, as NannyML's CBPE computes them);
* expected ROC AUC: each prediction counts ``p`` as a positive and ``1 − p`` as a negative at its score (the
  expected ROC curve NannyML integrates), i.e. ``AUC ≈ Σ_b P_b (N_below_b + ½ N_b) / (P · N)`` over score bins.

This only holds when the probabilities are calibrated *on the current data*. Pass ``reference`` (a labelled
table of the same model's scores and labels, e.g. its validation set) and isotonic regression (scikit-learn)
is fitted on it and applied to the current scores. CBPE **cannot see concept shift**: if the relation between
inputs and outcome changes, the scores no longer mean what they meant on the reference, and the estimate stays
confidently wrong. Confirm with :func:`assay.monitoring.performance.performance` once labels arrive.

How it runs: the engine returns one histogram per window — ``bins`` equal-width score bins (10 000 by
default), split at the threshold, with count, Σs and Σs² per bin — so a 10M-row log never leaves it. Without
calibration the expected counts are exact (Σp and Σp(1−p) come from the sums); with calibration each bin's
probability is the isotonic map at the bin's mean score (a tiny, bin-width-sized approximation). The
reference is pulled into memory to fit the isotonic map (score and label only; fine up to a few million rows).

Uncertainty: ``ci_low``/``ci_high`` are a *sampling band* — value ± z·sd of the realised metric if labels
were drawn Bernoulli(p) (``Var(TP) = Σ p(1 − p)``; delta method for recall/F1; Hanley–McNeil for AUC at the
expected class counts). It does not include error in the calibration itself.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from assay.data.sources import bind
from assay.engine import Engine
from assay.engine.sqlcheck import quote_identifier as q
from assay.errors import InvalidInputError
from assay.monitoring._metrics_sql import (
    column_kind,
    decay_sentence,
    epoch_seconds,
    fmt_metric,
    missing_sql,
    parse_window,
    prepare_predictions,
    require_columns,
    window_bounds,
    window_keys,
    window_sql,
)
from assay.monitoring.performance import MetricValue, z_value
from assay.results import ResultMixin

__all__ = ["EstimatedWindow", "PerformanceEstimate", "estimate_performance"]

_NAN = math.nan
_METRICS = ("auc", "accuracy", "precision", "recall", "f1", "positive_rate")


@dataclasses.dataclass(frozen=True, slots=True)
class EstimatedWindow(ResultMixin):
    """An ESTIMATE of performance in one window ``[start, end)`` (UTC), from scores alone.

    ``metrics`` hold estimated values with a sampling band (``ci_low``/``ci_high``); ``expected_confusion``
    the expected ``tp``/``fp``/``fn``/``tn`` counts.
    """

    start: Any
    end: Any
    n: int
    n_missing_score: int
    metrics: dict[str, MetricValue]
    expected_confusion: dict[str, float]
    status: str

    def summary(self) -> str:
        when = "All predictions" if self.start is None else f"Window from {self.start:%Y-%m-%d %H:%M}"
        return f"{when}: {self.n} predictions, estimated AUC {self.metrics['auc'].summary()} (estimate, no labels)."


@dataclasses.dataclass(frozen=True, slots=True)
class PerformanceEstimate(ResultMixin):
    """Estimated (not measured) performance per window by CBPE; see :func:`estimate_performance`."""

    method: str
    is_estimate: bool
    window: str | None
    threshold: float
    alpha: float
    calibrated: bool
    windows: tuple[EstimatedWindow, ...]
    overall: EstimatedWindow
    n_predictions: int
    n_missing_score: int
    reference_rows: int
    reference_ece: float
    notes: tuple[str, ...] = ()

    def to_frame(self) -> Any:
        """One row per window: bounds, counts, status, each estimated metric with ``_ci_low``/``_ci_high``."""
        import pandas as pd

        rows = []
        for w in self.windows:
            row: dict[str, Any] = {"start": w.start, "end": w.end, "n": w.n, "status": w.status}
            for name, m in w.metrics.items():
                row.update({f"estimated_{name}": m.value, f"{name}_ci_low": m.ci_low, f"{name}_ci_high": m.ci_high})
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        ov = self.overall
        lead = f"ESTIMATED performance (CBPE, no labels used) on {self.n_predictions:,} predictions"
        if self.window is not None:
            lead += f" in {len(self.windows)} windows of {self.window}"
        parts = [
            f"{lead}: estimated AUC {fmt_metric(ov.metrics['auc'])}, accuracy {fmt_metric(ov.metrics['accuracy'])}."
        ]
        done = [w for w in self.windows if w.status == "ok" and math.isfinite(w.metrics["auc"].value)]
        if self.window is not None and len(done) >= 2:
            first, last = done[0], done[-1]
            where = f"in the first window to {fmt_metric(last.metrics['auc'])} in the latest"
            z = z_value(self.alpha)
            parts.append(decay_sentence("Estimated AUC", True, first.metrics["auc"], last.metrics["auc"], z, where))
        if self.calibrated:
            parts.append(f"Scores were calibrated on {self.reference_rows:,} labelled reference rows.")
        else:
            parts.append("Scores were taken as calibrated probabilities (no reference calibration).")
        if math.isfinite(self.reference_ece) and self.reference_ece > 0.05:
            parts.append(f"The raw scores were poorly calibrated on the reference (ECE {self.reference_ece:.3f}).")
        parts.append(
            "Bands show sampling noise only. The estimate assumes calibrated scores and no concept shift: "
            "it cannot see a change in how inputs relate to outcomes, so confirm with realised performance "
            "when labels arrive."
        )
        if self.n_missing_score:
            parts.append(f"{self.n_missing_score:,} predictions had no score (NULL/NaN) and were left out.")
        return " ".join(parts)


def expected_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """AUC of the expected ROC curve from per-bin expected positives/negatives, bins in score order."""
    p_tot, n_tot = float(pos.sum()), float(neg.sum())
    if p_tot <= 0 or n_tot <= 0:
        return _NAN
    below = np.concatenate(([0.0], np.cumsum(neg)[:-1]))
    return float(np.sum(pos * (below + 0.5 * neg)) / (p_tot * n_tot))


def hanley_mcneil_se(auc: float, n_pos: float, n_neg: float) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982) for ``n_pos`` positives and ``n_neg`` negatives."""
    if not math.isfinite(auc) or n_pos <= 0 or n_neg <= 0:
        return _NAN
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(0.0, var))


def _band(value: float, sd: float, z: float) -> MetricValue:
    if not math.isfinite(value):
        return MetricValue(_NAN)
    if not math.isfinite(sd):
        return MetricValue(value)
    return MetricValue(value, max(0.0, value - z * sd), min(1.0, value + z * sd))


def cbpe_metrics(
    b: np.ndarray, pp: np.ndarray, n: np.ndarray, sp: np.ndarray, spq: np.ndarray, z: float
) -> tuple[dict[str, MetricValue], dict[str, float]]:
    """Estimated metrics from per-(bin, predicted class) counts ``n``, Σp ``sp`` and Σp(1−p) ``spq``."""
    tot = float(n.sum())
    if tot <= 0:
        return {m: MetricValue(_NAN) for m in _METRICS}, {}
    is_pp = pp == 1
    tp, fn = float(sp[is_pp].sum()), float(sp[~is_pp].sum())
    fp, tn = float(n[is_pp].sum()) - tp, float(n[~is_pp].sum()) - fn
    v_tp, v_fn = float(spq[is_pp].sum()), float(spq[~is_pp].sum())
    n_pp = tp + fp

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else _NAN

    out = {"accuracy": _band((tp + tn) / tot, math.sqrt(v_tp + v_fn) / tot, z)}
    out["precision"] = _band(ratio(tp, n_pp), ratio(math.sqrt(v_tp), n_pp), z)
    pos = tp + fn
    out["recall"] = _band(ratio(tp, pos), ratio(math.sqrt(fn * fn * v_tp + tp * tp * v_fn), pos * pos), z)
    d = tp + n_pp + fn  # F1 = 2TP / (2TP + FP + FN) = 2TP / (TP + n_pp + FN)
    sd_f1 = ratio(2 * math.sqrt((n_pp + fn) ** 2 * v_tp + tp * tp * v_fn), d * d)
    out["f1"] = _band(ratio(2 * tp, d), sd_f1, z)
    out["positive_rate"] = _band(pos / tot, math.sqrt(v_tp + v_fn) / tot, z)
    order = np.argsort(b, kind="stable")
    bs, pos_b, neg_b = b[order], sp[order], (n - sp)[order]
    uniq, idx = np.unique(bs, return_index=True)
    auc = expected_auc(np.add.reduceat(pos_b, idx), np.add.reduceat(neg_b, idx)) if len(uniq) else _NAN
    out["auc"] = _band(auc, hanley_mcneil_se(auc, pos, tot - pos), z)
    return {m: out[m] for m in _METRICS}, {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _fit_reference(ref: Any, score_column: str, label_column: str) -> tuple[Any, int, float]:
    require_columns(ref, {"score_column": score_column, "label_column": label_column}, "the reference")
    if column_kind(ref.columns[label_column]) not in ("numeric", "bool"):
        raise InvalidInputError(f"the reference label column {label_column!r} must be 0/1 (numeric or boolean)")
    s = f"CAST({q(score_column)} AS DOUBLE)"
    yk = column_kind(ref.columns[label_column])
    y = f"CAST(CAST({q(label_column)} AS INT) AS DOUBLE)" if yk == "bool" else f"CAST({q(label_column)} AS DOUBLE)"
    tab = ref.engine.sql(
        f"SELECT s, y FROM (SELECT {s} AS s, {y} AS y FROM {ref.relation}) r "
        f"WHERE NOT {missing_sql('s')} AND NOT {missing_sql('y')}"
    )
    scores = tab.column("s").to_numpy(zero_copy_only=False).astype(float)
    labels = tab.column("y").to_numpy(zero_copy_only=False).astype(float)
    if len(scores) == 0:
        raise InvalidInputError(f"the reference ({ref.label}) has no rows with both a score and a label")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InvalidInputError(f"the reference label column {label_column!r} must hold only 0 and 1")
    if scores.min() < 0 or scores.max() > 1:
        raise InvalidInputError(
            f"reference scores range from {scores.min():.4g} to {scores.max():.4g}, outside [0, 1]: pass probabilities"
        )
    if labels.min() == labels.max():
        raise InvalidInputError("the reference labels are all one class: calibration needs both 0s and 1s")
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    edges = np.minimum((scores * 10).astype(int), 9)
    counts = np.bincount(edges, minlength=10)
    gap = np.abs(np.bincount(edges, scores, 10) - np.bincount(edges, labels, 10))
    return iso, len(scores), float(gap.sum() / counts.sum())


def estimate_performance(
    predictions: object,
    *,
    score_column: str = "score",
    timestamp_column: str | None = None,
    window: Any = None,
    threshold: float = 0.5,
    engine: Engine | None = None,
    reference: object | None = None,
    calibrate: bool = True,
    reference_score_column: str | None = None,
    reference_label_column: str = "label",
    alpha: float = 0.05,
    bins: int = 10_000,
    start: Any = None,
    end: Any = None,
) -> PerformanceEstimate:
    """ESTIMATE classifier performance without labels (CBPE); see the module docstring for the method.

    ``predictions``: any source :func:`assay.data.sources.bind` accepts, with probabilities in
    ``score_column`` (and ``timestamp_column`` when ``window`` is set: ``"1h"``, ``"1d"``, ``"7d"`` ...).
    ``reference``: a labelled table (``reference_score_column``, default ``score_column``, and
    ``reference_label_column``) to calibrate the scores on with isotonic regression when ``calibrate``; without
    it the scores are taken as calibrated. Returns a :class:`PerformanceEstimate` whose every metric is an
    estimate with a sampling band; it cannot detect concept shift.

    Example::

        est = estimate_performance("scored_today.parquet", reference="validation.parquet",
                                   timestamp_column="timestamp", window="1d")
        print(est.summary())
    """
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05")
    if not 0 <= threshold <= 1:
        raise InvalidInputError(f"threshold={threshold!r} must lie in [0, 1]")
    if not isinstance(bins, int) or not 2 <= bins <= 1_000_000:
        raise InvalidInputError("bins must be an integer between 2 and 1,000,000 (default 10,000)")
    spec = parse_window(window)
    lo, hi = epoch_seconds(start, "start"), epoch_seconds(end, "end")
    iso, ref_rows, ref_ece = None, 0, _NAN
    with bind(predictions, engine, name="predictions") as pred:
        prep = prepare_predictions(
            pred, score_column=score_column, timestamp_column=timestamp_column, window=spec, start=lo, end=hi
        )
        if reference is not None:
            with bind(reference, pred.engine, name="reference") as ref:
                iso, ref_rows, ref_ece = _fit_reference(ref, reference_score_column or score_column,
                                                        reference_label_column)  # fmt: skip
        binned = f"LEAST(CAST(floor(s * {bins}) AS BIGINT), {bins - 1})"
        sql = f"""WITH {prep.cte}, rows AS (SELECT {window_sql(spec)} AS w, s FROM base)
SELECT w, b, pp, CAST(count(*) AS BIGINT) AS n, CAST(sum(s) AS DOUBLE) AS ss, CAST(sum(s * s) AS DOUBLE) AS ss2
FROM (SELECT w, s, CASE WHEN s IS NULL THEN -1 ELSE {binned} END AS b,
             CASE WHEN s IS NULL THEN 0 WHEN s >= $thr THEN 1 ELSE 0 END AS pp FROM rows) r
GROUP BY w, b, pp"""
        tab = pred.engine.sql(sql, {**prep.params, "thr": float(threshold)})
    cols = {c: np.asarray(tab.column(c).to_numpy(zero_copy_only=False)) for c in ("w", "b", "pp", "n", "ss", "ss2")}
    w_all, b_all, pp_all = (cols[c].astype(np.int64) for c in ("w", "b", "pp"))
    n_all, ss_all, ss2_all = (np.nan_to_num(cols[c].astype(float)) for c in ("n", "ss", "ss2"))
    use_iso = iso is not None and calibrate
    if use_iso:
        p = iso.predict(np.divide(ss_all, n_all, out=np.zeros_like(ss_all), where=n_all > 0))
        sp_all, spq_all = n_all * p, n_all * p * (1 - p)
    else:
        sp_all, spq_all = ss_all, np.maximum(ss_all - ss2_all, 0.0)
    z = z_value(alpha)
    scored = b_all >= 0

    def build(mask: np.ndarray, key: int | None) -> EstimatedWindow:
        start_, end_ = window_bounds(key, spec) if key is not None else (None, None)
        m = mask & scored
        missing = int(n_all[mask & ~scored].sum())
        n = int(n_all[m].sum())
        metrics, conf = cbpe_metrics(b_all[m], pp_all[m], n_all[m], sp_all[m], spq_all[m], z)
        status = "ok" if n else ("no_scores" if missing else "no_predictions")
        return EstimatedWindow(start_, end_, n, missing, metrics, conf, status)

    overall = build(np.ones(len(w_all), dtype=bool), None)
    keys = window_keys(sorted({int(k) for k in w_all}), spec)
    windows = (overall,) if spec is None else tuple(build(w_all == k, k) for k in keys)
    notes = []
    if reference is not None and not calibrate:
        notes.append("calibrate=False: the reference was only used to report calibration (ECE)")
    return PerformanceEstimate(
        method="CBPE",
        is_estimate=True,
        window=None if spec is None else str(window),
        threshold=float(threshold),
        alpha=float(alpha),
        calibrated=use_iso,
        windows=windows,
        overall=overall,
        n_predictions=int(prep.profile["n_kept"]),  # type: ignore[call-overload]
        n_missing_score=int(prep.profile["n_missing_score"]),  # type: ignore[call-overload]
        reference_rows=ref_rows,
        reference_ece=ref_ece,
        notes=tuple(notes),
    )
