"""Model performance over time, from a prediction log joined to labels that arrive later.

:func:`performance` joins predictions (id, timestamp, score — e.g. what serving logged) to a labels table
(id, label) inside the engine, buckets them into time windows and computes, per window, sufficient
statistics in SQL: counts, sums, sums of squares, confusion counts, calibration bins and AUC rank sums. Only
those aggregates come back; the metrics and their confidence intervals are computed from them here.

Confidence intervals (``alpha`` two-sided, normal quantile ``z``):

* AUC — from rank sums with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988): per window the scores
  are grouped into ``auc_bins`` equal-width bins (10 000 by default), and window functions give, for each
  positive, the negatives ranked below it (and vice versa); their sums and sums of squares give AUC and the
  DeLong variance. Pairs inside one bin count as ties (½), so the AUC is off from the exact one by at most
  ½ × the share of positive–negative pairs that share a bin; each window reports that bound as
  ``auc_max_error`` (typically < 1e-4; 0 when scores have ≤ 4 decimals). ``auc_bins=None`` groups by the
  distinct score instead: exact, as ``sklearn.metrics.roc_auc_score`` (ties count ½), but about 10× slower on
  10M rows.
* accuracy, precision, recall, positive rates — Wilson score intervals. F1 — delta method on the multinomial
  confusion proportions.
* log loss, Brier score, MAE, bias (mean of score − label) — normal approximation: mean ± z·sd/√n.
* RMSE — delta method on MSE: ``se(RMSE) = se(MSE) / (2·RMSE)``, ``se(MSE) = sd(e²)/√n``.
* R² — delta method on ``1 − mean(e²)/var(y)`` using the sums of ``y … y⁴``, ``e², e⁴, e²y, e²y²``.
* expected calibration error (10 equal-width bins by default) — no interval (its sample size is reported);
  each reliability bin carries a Wilson interval on its observed rate.

Rules: predictions whose score is NULL or NaN are counted (``n_missing_score``) and left out; predictions
without a timestamp are counted and left out; when an id was predicted more than once the latest prediction
wins (ties: the higher score); labels with ids absent from the predictions are counted
(``n_unmatched_labels``). A window with no labels yet has status ``"awaiting_labels"`` and NaN label metrics
(``predicted_positive_rate`` / ``mean_score`` need no labels and are still filled in).
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import ExitStack
from typing import Any, Literal

from scipy import stats as _st

from assay.data.sources import bind
from assay.engine import Engine
from assay.errors import InvalidInputError
from assay.monitoring._metrics_sql import (
    auc_sql,
    calib_sql,
    class_sql,
    decay_sentence,
    epoch_seconds,
    fmt_metric,
    join_labels,
    parse_window,
    prepare_predictions,
    regression_sql,
    window_bounds,
    window_keys,
    window_label,
    window_sql,
)
from assay.results import ResultMixin

__all__ = ["CalibrationBin", "MetricValue", "PerformanceReport", "WindowPerformance", "performance"]

_NAN = math.nan
_NORMAL = "normal (mean ± z·sd/√n)"
CI_METHODS_CLASSIFICATION = {
    "auc": "DeLong variance, normal interval", "log_loss": _NORMAL, "brier": _NORMAL, "accuracy": "Wilson",
    "precision": "Wilson", "recall": "Wilson", "f1": "delta method (multinomial)", "positive_rate": "Wilson",
    "predicted_positive_rate": "Wilson", "mean_score": _NORMAL, "ece": "none (sample size reported)",
}  # fmt: skip
CI_METHODS_REGRESSION = {"mae": _NORMAL, "rmse": "delta method on MSE", "bias": _NORMAL, "r2": "delta method"}


@dataclasses.dataclass(frozen=True, slots=True)
class MetricValue(ResultMixin):
    """A metric with its confidence interval (NaN bounds when no interval applies)."""

    value: float
    ci_low: float = _NAN
    ci_high: float = _NAN

    def summary(self) -> str:
        if not math.isfinite(self.value):
            return "not available"
        if math.isfinite(self.ci_low) and math.isfinite(self.ci_high):
            return f"{self.value:.3g} (CI {self.ci_low:.3g} to {self.ci_high:.3g})"
        return f"{self.value:.3g}"


@dataclasses.dataclass(frozen=True, slots=True)
class CalibrationBin(ResultMixin):
    """One reliability bin: scores in ``[lower, upper)``, their mean and the observed positive rate (Wilson CI)."""

    lower: float
    upper: float
    n: int
    mean_score: float
    observed_rate: float
    ci_low: float
    ci_high: float

    def summary(self) -> str:
        return (
            f"{self.n} predictions scored {self.lower:.2f}-{self.upper:.2f} (mean {self.mean_score:.3f}) "
            f"were positive {self.observed_rate:.1%} of the time."
        )


@dataclasses.dataclass(frozen=True, slots=True)
class WindowPerformance(ResultMixin):
    """Performance in one time window ``[start, end)`` (UTC; ``None`` for the single, unbounded window).

    ``auc_max_error`` bounds how far the binned AUC can be from the exact one (0 with ``auc_bins=None``).
    """

    start: Any
    end: Any
    n: int
    n_labelled: int
    coverage: float
    metrics: dict[str, MetricValue]
    status: str
    n_missing_score: int = 0
    calibration: tuple[CalibrationBin, ...] = ()
    notes: tuple[str, ...] = ()
    auc_max_error: float = _NAN

    def summary(self) -> str:
        when = "All predictions" if self.start is None else f"Window from {self.start:%Y-%m-%d %H:%M}"
        if self.status != "ok":
            return f"{when}: {self.n} predictions, status {self.status}."
        shown = ", ".join(f"{k} {v.summary()}" for k, v in list(self.metrics.items())[:3])
        return f"{when}: {self.n} predictions, {self.coverage:.0%} labelled; {shown}."


@dataclasses.dataclass(frozen=True, slots=True)
class PerformanceReport(ResultMixin):
    """Realised performance per time window and overall, with confidence intervals; see :func:`performance`."""

    task: str
    window: str | None
    threshold: float
    alpha: float
    windows: tuple[WindowPerformance, ...]
    overall: WindowPerformance
    n_predictions: int
    n_duplicate_predictions: int
    n_missing_score: int
    n_missing_timestamp: int
    n_labels: int
    n_duplicate_labels: int
    n_unmatched_labels: int
    ci_methods: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        """The metric the summary talks about: ``auc`` (classification) or ``rmse`` (regression)."""
        return "auc" if self.task == "classification" else "rmse"

    def to_frame(self) -> Any:
        """One row per window: bounds, counts, status, and ``metric``, ``metric_ci_low``, ``metric_ci_high``."""
        import pandas as pd

        rows = []
        for w in self.windows:
            row: dict[str, Any] = {
                "start": w.start, "end": w.end, "n": w.n, "n_labelled": w.n_labelled, "coverage": w.coverage,
                "status": w.status, "n_missing_score": w.n_missing_score,
            }  # fmt: skip
            for name, m in w.metrics.items():
                row.update({name: m.value, f"{name}_ci_low": m.ci_low, f"{name}_ci_high": m.ci_high})
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        return _report_summary(self)


# -- statistics from sufficient statistics ---------------------------------------------------------------------
def z_value(alpha: float) -> float:
    return float(_st.norm.ppf(1 - alpha / 2))


def _clip(lo: float, hi: float, low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    return max(low, lo), min(high, hi)


def wilson(k: float, n: float, z: float) -> MetricValue:
    """Proportion ``k/n`` with its Wilson score interval (NaN when ``n == 0``)."""
    if n <= 0:
        return MetricValue(_NAN)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return MetricValue(p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def normal_mean(total: float, squares: float, n: float, z: float) -> MetricValue:
    """Mean of a quantity from its sum and sum of squares, ± z·sd/√n."""
    if n <= 0:
        return MetricValue(_NAN)
    mean = total / n
    if n < 2:
        return MetricValue(mean)
    var = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(var / n)
    return MetricValue(mean, mean - half, mean + half)


def delong(n_pos: float, n_neg: float, a: float, s10: float, s01: float, z: float) -> MetricValue:
    """AUC and its DeLong interval from rank sums.

    ``a`` = Σ over positives of (negatives below + ½ tied); ``s10`` = Σ over positives of that count squared;
    ``s01`` = Σ over negatives of (positives above + ½ tied) squared.
    """
    if n_pos <= 0 or n_neg <= 0:
        return MetricValue(_NAN)
    auc = a / (n_pos * n_neg)
    if n_pos < 2 or n_neg < 2:
        return MetricValue(auc)
    v10 = max(0.0, (s10 / (n_neg * n_neg) - n_pos * auc * auc) / (n_pos - 1))
    v01 = max(0.0, (s01 / (n_pos * n_pos) - n_neg * auc * auc) / (n_neg - 1))
    half = z * math.sqrt(v10 / n_pos + v01 / n_neg)
    return MetricValue(auc, *_clip(auc - half, auc + half))


def f1_delta(tp: float, fp: float, fn: float, n: float, z: float) -> MetricValue:
    """F1 = 2TP/(2TP+FP+FN) with a delta-method interval over the multinomial confusion proportions."""
    d = 2 * tp + fp + fn
    if d <= 0 or n <= 0:
        return MetricValue(_NAN)
    f1 = 2 * tp / d
    pi = (tp / n, fp / n, fn / n)
    dd = (2 * pi[0] + pi[1] + pi[2]) ** 2
    g = (2 * (pi[1] + pi[2]) / dd, -2 * pi[0] / dd, -2 * pi[0] / dd)
    var = sum(g[i] * g[i] * pi[i] for i in range(3)) - sum(g[i] * pi[i] for i in range(3)) ** 2
    half = z * math.sqrt(max(0.0, var) / n)
    return MetricValue(f1, *_clip(f1 - half, f1 + half))


def classification_metrics(r: dict[str, float], z: float) -> tuple[dict[str, MetricValue], tuple[str, ...]]:
    """Metrics from one window's sums (keys as returned by the aggregate query, plus AUC rank sums)."""
    n, m = r["n"], r["n_lab"]
    tp, fp, fn = r["tp"], r["fp"], r["fn"]
    tn = m - tp - fp - fn
    pos = r["pos"]
    notes: list[str] = []
    out = {
        "auc": delong(r["auc_p"], r["auc_n"], r["auc_a"], r["auc_s10"], r["auc_s01"], z),
        "log_loss": normal_mean(r["ll"], r["ll2"], m, z),
        "brier": normal_mean(r["br"], r["br2"], m, z),
        "accuracy": wilson(tp + tn, m, z),
        "precision": wilson(tp, tp + fp, z),
        "recall": wilson(tp, tp + fn, z),
        "f1": f1_delta(tp, fp, fn, m, z),
        "positive_rate": wilson(pos, m, z),
        "predicted_positive_rate": wilson(r["n_pp"], n, z),
        "mean_score": normal_mean(r["ss"], r["ss2"], n, z),
    }
    if m > 0 and (pos == 0 or pos == m):
        notes.append("only one class among the labels: AUC is undefined")
    return out, tuple(notes)


def regression_metrics(r: dict[str, float], z: float) -> dict[str, MetricValue]:
    """MAE, RMSE, bias and R² with intervals from sums of powers of ``e = score − label`` and centred ``y``."""
    m = r["n_lab"]
    if m <= 0:
        return {k: MetricValue(_NAN) for k in ("mae", "rmse", "bias", "r2")}
    mae = normal_mean(r["ae"], r["e2"], m, z)
    bias = normal_mean(r["e"], r["e2"], m, z)
    mse = r["e2"] / m
    rmse_v = math.sqrt(mse)
    var_a = max(0.0, r["e4"] / m - mse * mse)  # var of e²
    if m >= 2 and rmse_v > 0:
        se = math.sqrt(var_a / m) / (2 * rmse_v)
        rmse = MetricValue(rmse_v, max(0.0, rmse_v - z * se), rmse_v + z * se)
    else:
        rmse = MetricValue(rmse_v)
    m1, m2, m3, m4 = (r[k] / m for k in ("y", "y2", "y3", "y4"))
    b = m2 - m1 * m1  # population variance of y
    if b <= 0:
        return {"mae": mae, "rmse": rmse, "bias": bias, "r2": MetricValue(_NAN)}
    r2 = 1 - mse / b
    var_b = max(0.0, m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4 - b * b)
    cov_ab = r["e2y2"] / m - 2 * m1 * r["e2y"] / m + m1 * m1 * mse - mse * b
    var = (var_a / b**2 - 2 * mse * cov_ab / b**3 + mse * mse * var_b / b**4) / m
    half = z * math.sqrt(max(0.0, var))
    return {"mae": mae, "rmse": rmse, "bias": bias, "r2": MetricValue(r2, r2 - half, min(1.0, r2 + half))}


def _calibration(bins: dict[int, tuple[float, float, float]], k: int, z: float) -> tuple[tuple, float]:
    out, total, ece = [], sum(v[0] for v in bins.values()), 0.0
    for b in range(k):
        n, ss, sy = bins.get(b, (0.0, 0.0, 0.0))
        if n == 0:
            continue
        rate = wilson(sy, n, z)
        out.append(CalibrationBin(b / k, (b + 1) / k, int(n), ss / n, rate.value, rate.ci_low, rate.ci_high))
        ece += n / total * abs(ss / n - sy / n)
    return tuple(out), (ece if total else _NAN)


# -- the public function -------------------------------------------------------------------------------------------
def performance(
    predictions: object,
    labels: object | None = None,
    *,
    id_column: str = "id",
    timestamp_column: str | None = "timestamp",
    score_column: str = "score",
    label_column: str = "label",
    label_timestamp_column: str | None = None,
    task: Literal["classification", "regression"] = "classification",
    window: Any = "1d",
    threshold: float = 0.5,
    engine: Engine | None = None,
    alpha: float = 0.05,
    start: Any = None,
    end: Any = None,
    auc_bins: int | None = 10_000,
    calibration_bins: int = 10,
) -> PerformanceReport:
    """Realised model performance per time window, from predictions joined to (late-arriving) labels.

    ``predictions``: any source :func:`assay.data.sources.bind` accepts (path, DataFrame, Arrow, or with
    ``engine=`` a table name or SELECT) holding ``id_column``, ``timestamp_column`` and ``score_column`` —
    probabilities for ``task="classification"``, predicted values for ``"regression"``. ``labels``: a source
    with ``id_column`` and ``label_column`` (and optionally ``label_timestamp_column``: the latest label per id
    wins), joined to the predictions in the engine; ``None`` reads ``label_column`` from the predictions
    (``id_column`` is then optional: without it, predictions are not de-duplicated). ``window``: ``"1h"``,
    ``"1d"``, ``"7d"`` (Monday-aligned) ..., or ``None`` for one window (then the timestamp column may be
    absent). ``start``/``end`` (naive = UTC) keep predictions with ``start <= timestamp < end``.

    Raises :class:`~assay.errors.InvalidInputError` for missing columns (naming those present), an empty log,
    non-binary labels or scores outside [0, 1] for classification. See the module docstring for the intervals.

    Example::

        report = performance("predictions.parquet", "labels.parquet", window="1d")
        print(report.summary()); report.to_frame()
    """
    if task not in ("classification", "regression"):
        raise InvalidInputError(f"task={task!r}: use 'classification' or 'regression'")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05 for 95% intervals")
    if auc_bins is not None and (not isinstance(auc_bins, int) or auc_bins < 2):
        raise InvalidInputError("auc_bins must be an integer >= 2 (default 10000), or None for the exact AUC")
    if not isinstance(calibration_bins, int) or calibration_bins < 1:
        raise InvalidInputError("calibration_bins must be a positive integer")
    spec = parse_window(window)
    classification = task == "classification"
    lo, hi = epoch_seconds(start, "start"), epoch_seconds(end, "end")
    with ExitStack() as stack:
        pred = stack.enter_context(bind(predictions, engine, name="predictions"))
        inline = labels is None
        prep = prepare_predictions(
            pred, score_column=score_column, window=spec, timestamp_column=timestamp_column
            if (timestamp_column in pred.columns or spec is not None or lo is not None or hi is not None) else None,
            id_column=id_column if (id_column in pred.columns or not inline) else None,
            label_column=label_column if inline else None, start=lo, end=hi, classification=classification,
        )  # fmt: skip
        prof = {**prep.profile, "auc_bins": auc_bins}
        if inline:
            cte = f"{prep.cte}, rows AS (SELECT {window_sql(spec)} AS w, s, y FROM base)"
            prof.update(n_labels=prof.get("n_y", 0), n_duplicate_labels=0, n_unmatched_labels=0)
        else:
            lab = stack.enter_context(bind(labels, pred.engine, name="labels"))
            lab_cte, join_on, lprof = join_labels(
                prep, pred, lab, id_column=id_column, label_column=label_column,
                label_timestamp_column=label_timestamp_column, classification=classification,
            )  # fmt: skip
            prof.update(lprof)
            cte = (
                f"{prep.cte}, {lab_cte}, rows AS (SELECT {window_sql(spec, 'b.t')} AS w, b.s AS s, l.y AS y "
                f"FROM base b LEFT JOIN lab l ON {join_on})"
            )
        sums, auc, calib = _run(pred.engine, cte, prep.params, classification, threshold, prof,
                                auc_bins, calibration_bins)  # fmt: skip
    return _assemble(task, window, spec, threshold, alpha, sums, auc, calib, calibration_bins, prof)


def _run(
    eng: Engine,
    cte: str,
    params: dict[str, object],
    classification: bool,
    threshold: float,
    prof: dict[str, object],
    auc_bins: int | None,
    k: int,
) -> tuple[list[dict], list[dict], list[dict]]:
    if not classification:
        c = float(prof.get("y_mean") or 0.0)  # centre y so power sums keep their precision
        return eng.sql(regression_sql(cte), {**params, "c": c}).to_pylist(), [], []
    sums = eng.sql(class_sql(cte), {**params, "thr": float(threshold)}).to_pylist()
    auc = eng.sql(auc_sql(cte, auc_bins), params).to_pylist()
    calib = eng.sql(calib_sql(cte, k), params).to_pylist()
    return sums, auc, calib


_COUNTS = {
    "n_predictions": "n_kept", "n_duplicate_predictions": "n_duplicate_ids", "n_missing_score": "n_missing_score",
    "n_missing_timestamp": "n_missing_timestamp", "n_labels": "n_labels", "n_duplicate_labels": "n_duplicate_labels",
    "n_unmatched_labels": "n_unmatched_labels",
}  # fmt: skip


def _assemble(
    task: str,
    window: Any,
    spec: tuple[int, int] | None,
    threshold: float,
    alpha: float,
    sums: list[dict],
    auc: list[dict],
    calib: list[dict],
    k: int,
    prof: dict[str, object],
) -> PerformanceReport:
    z = z_value(alpha)
    classification = task == "classification"
    by_w = {int(r["w"]): {key: (v or 0) for key, v in r.items()} for r in sums}
    auc_by = {(int(r["lvl"]), int(r["w"])): r for r in auc}
    cal_by: dict[int, dict[int, tuple[float, float, float]]] = {}
    overall_cal: dict[int, list[float]] = {}
    for r in calib:
        cal_by.setdefault(int(r["w"]), {})[int(r["b"])] = (r["n"], r["ss"], r["sy"])
        acc = overall_cal.setdefault(int(r["b"]), [0.0, 0.0, 0.0])
        for i, key in enumerate(("n", "ss", "sy")):
            acc[i] += r[key]
    zero_auc = {"auc_p": 0.0, "auc_n": 0.0, "auc_a": 0.0, "auc_tied": 0.0, "auc_s10": 0.0, "auc_s01": 0.0}

    def build(key: int | None, r: dict[str, float] | None, cal: dict[int, tuple[float, float, float]]) -> Any:
        start, end = window_bounds(key, spec) if key is not None else (None, None)
        if r is None:
            empty = CI_METHODS_CLASSIFICATION if classification else CI_METHODS_REGRESSION
            return WindowPerformance(start, end, 0, 0, _NAN, {m: MetricValue(_NAN) for m in empty}, "no_predictions")
        n, m = int(r["n"]), int(r["n_lab"])
        notes: tuple[str, ...] = ()
        bins: tuple[CalibrationBin, ...] = ()
        auc_err = _NAN
        if classification:
            rank = {**zero_auc, **auc_by.get((1, 0) if key is None else (0, key), {})}
            metrics, notes = classification_metrics({**r, **rank}, z)
            pairs = rank["auc_p"] * rank["auc_n"]
            auc_err = 0.5 * rank["auc_tied"] / pairs if pairs and prof.get("auc_bins") else (0.0 if pairs else _NAN)
            bins, ece = _calibration(cal, k, z)
            metrics["ece"] = MetricValue(ece)
        else:
            metrics = regression_metrics(r, z)
        if m == 0:
            label_free = ("predicted_positive_rate", "mean_score")
            metrics = {name: (v if name in label_free else MetricValue(_NAN)) for name, v in metrics.items()}
        status = "ok" if m > 0 else ("awaiting_labels" if n > 0 else "no_scores")
        return WindowPerformance(start, end, n, m, (m / n if n else _NAN), metrics, status,
                                 int(r["n_missing"]), bins, notes, auc_err)  # fmt: skip

    windows = tuple(build(key, by_w.get(key), cal_by.get(key, {})) for key in window_keys(list(by_w), spec))
    total = {name: float(sum(r[name] for r in by_w.values())) for name in next(iter(by_w.values()))}
    overall = build(None, total, {b: tuple(v) for b, v in overall_cal.items()})  # type: ignore[misc]
    if spec is None:
        windows = (overall,)
    return PerformanceReport(
        task=task,
        window=None if spec is None else str(window),
        threshold=float(threshold),
        alpha=float(alpha),
        windows=windows,
        overall=overall,
        **{field: int(prof.get(key) or 0) for field, key in _COUNTS.items()},  # type: ignore[call-overload]
        ci_methods=dict(CI_METHODS_CLASSIFICATION if classification else CI_METHODS_REGRESSION),
    )


# -- summary ----------------------------------------------------------------------------------------------------------
def _report_summary(r: PerformanceReport) -> str:
    h = r.headline
    name = "AUC" if h == "auc" else "RMSE"
    z = z_value(r.alpha)
    ov = r.overall
    lead = f"{r.task.capitalize()} performance on {r.n_predictions:,} predictions"
    if r.window is not None:
        lead += f" in {len(r.windows)} windows of {r.window}"
    cover = f"{ov.coverage:.0%}" if math.isfinite(ov.coverage) else "none"
    parts = [f"{lead}; {ov.n_labelled:,} ({cover}) have labels."]
    if ov.status != "ok":
        parts.append(
            "No labels have arrived yet, so realised performance cannot be measured "
            "(estimate_performance gives a label-free estimate)."
        )
    else:
        parts.append(f"Overall {name} {fmt_metric(ov.metrics[h])}, {1 - r.alpha:.0%} confidence interval in brackets.")
        done = [w for w in r.windows if w.status == "ok" and math.isfinite(w.metrics[h].value)]
        if r.window is not None and len(done) >= 2:
            first, last = done[0], done[-1]
            where = (
                f"in the first labelled window ({window_label(first)}) to {fmt_metric(last.metrics[h])} in the latest "
                f"({window_label(last)}, {last.n_labelled:,} labels)"
            )
            parts.append(decay_sentence(name, h == "auc", first.metrics[h], last.metrics[h], z, where))
    awaiting = sum(w.status == "awaiting_labels" for w in r.windows)
    if awaiting and r.window is not None:
        parts.append(f"{awaiting} window(s) are still awaiting labels.")
    extra = [
        (r.n_missing_score, "predictions had no score (NULL/NaN) and were left out"),
        (r.n_missing_timestamp, "predictions had no timestamp and were left out"),
        (r.n_duplicate_predictions, "repeated prediction ids were resolved to the latest prediction"),
        (r.n_unmatched_labels, "labels matched no prediction"),
    ]
    parts += [f"{n:,} {text}." for n, text in extra if n]
    return " ".join(parts)
