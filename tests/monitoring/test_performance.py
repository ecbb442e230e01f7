"""assay.monitoring.performance: realised performance per window from predictions joined to late labels."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from assay.engine import Engine
from assay.errors import InvalidInputError
from assay.monitoring.performance import delong, performance

T0 = pd.Timestamp("2024-03-04")  # a Monday


def _log(n: int, seed: int = 0, days: float = 4.0, decimals: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions sorted by time (ids in time order) and Bernoulli(score) labels for every id."""
    rng = np.random.default_rng(seed)
    ts = T0 + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    s = rng.beta(2, 3, n).round(decimals)  # rounding makes ties, which AUC must count as 1/2
    y = (rng.uniform(size=n) < s).astype("int64")
    pred = pd.DataFrame({"id": np.arange(n), "timestamp": ts, "score": s, "feature": rng.normal(size=n)})
    return pred, pd.DataFrame({"id": np.arange(n), "label": y})


def _delong_direct(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong's AUC variance the textbook way (pairwise placements)."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


def test_classification_metrics_match_sklearn_per_window_and_overall() -> None:
    pred, lab = _log(6000)
    report = performance(pred, lab, window="1d")
    assert report.task == "classification" and len(report.windows) == 4
    joined = pred.merge(lab, on="id")
    for w in [*report.windows, report.overall]:
        part = joined if w.start is None else joined[(joined.timestamp >= w.start) & (joined.timestamp < w.end)]
        y, s = part.label.to_numpy(), part.score.to_numpy()
        yp = (s >= 0.5).astype(int)
        expected = {
            "auc": roc_auc_score(y, s), "log_loss": log_loss(y, s), "brier": brier_score_loss(y, s),
            "accuracy": accuracy_score(y, yp), "precision": precision_score(y, yp), "recall": recall_score(y, yp),
            "f1": f1_score(y, yp), "positive_rate": y.mean(), "predicted_positive_rate": yp.mean(),
        }  # fmt: skip
        assert w.n == w.n_labelled == len(part) and w.coverage == 1.0 and w.status == "ok"
        for name, value in expected.items():
            m = w.metrics[name]
            assert m.value == pytest.approx(value, abs=1e-9), name
            assert m.ci_low <= m.value <= m.ci_high, name


def test_auc_interval_is_delong() -> None:
    pred, lab = _log(600, seed=3, decimals=2)
    report = performance(pred, lab, window=None, alpha=0.05)
    auc, var = _delong_direct(lab.label.to_numpy(), pred.score.to_numpy())
    m = report.overall.metrics["auc"]
    assert m.value == pytest.approx(auc, abs=1e-12)
    assert (m.ci_high - m.ci_low) / 2 == pytest.approx(1.959963984540054 * math.sqrt(var), rel=1e-9)
    assert report.ci_methods["auc"].startswith("DeLong")


def test_binned_auc_is_within_its_reported_bound_and_exact_mode_is_exact() -> None:
    pred, lab = _log(5000, seed=1, decimals=8)
    exact = roc_auc_score(lab.label, pred.score)
    assert performance(pred, lab, window=None, auc_bins=None).overall.metrics["auc"].value == pytest.approx(
        exact, abs=1e-12
    )
    for bins in (100, 10_000):
        w = performance(pred, lab, window=None, auc_bins=bins).overall
        assert abs(w.metrics["auc"].value - exact) <= w.auc_max_error + 1e-12
        assert w.auc_max_error < (1e-2 if bins == 100 else 1e-4)
    assert performance(pred, lab, window=None, auc_bins=None).overall.auc_max_error == 0.0


def test_delong_helper_degenerate_inputs() -> None:
    assert math.isnan(delong(0, 5, 0, 0, 0, 1.96).value)
    assert delong(1, 1, 1, 1, 1, 1.96).value == 1.0


def test_windows_awaiting_labels_and_gaps() -> None:
    pred, lab = _log(4000, days=3)
    late = pred[pred.timestamp >= T0 + pd.Timedelta(days=5)]
    assert late.empty
    extra = pred.tail(100).assign(id=np.arange(10_000, 10_100), timestamp=T0 + pd.Timedelta(days=5, hours=3))
    pred2 = pd.concat([pred, extra], ignore_index=True)
    labelled = lab[pred.timestamp < T0 + pd.Timedelta(days=2)]
    report = performance(pred2, labelled, window="1d")
    statuses = [w.status for w in report.windows]
    assert statuses == ["ok", "ok", "awaiting_labels", "no_predictions", "no_predictions", "awaiting_labels"]
    assert report.windows[0].start == dt.datetime(2024, 3, 4) and report.windows[0].end == dt.datetime(2024, 3, 5)
    waiting = report.windows[2]
    assert waiting.n_labelled == 0 and waiting.coverage == 0.0 and math.isnan(waiting.metrics["auc"].value)
    assert not math.isnan(waiting.metrics["predicted_positive_rate"].value)  # needs no labels
    assert report.overall.coverage == pytest.approx(len(labelled) / len(pred2))
    assert "awaiting labels" in report.summary()
    json.dumps(report.to_dict())  # JSON-safe
    frame = report.to_frame()
    assert list(frame.status) == statuses and "auc_ci_low" in frame


def test_weekly_windows_start_on_monday_and_hourly_windows() -> None:
    pred, lab = _log(3000, days=20)
    weekly = performance(pred, lab, window="7d")
    assert all(w.start.weekday() == 0 for w in weekly.windows) and len(weekly.windows) == 3
    hourly = performance(pred.head(300), lab, window="1h")
    assert all(w.start.minute == 0 and (w.end - w.start) == dt.timedelta(hours=1) for w in hourly.windows)
    assert sum(w.n for w in hourly.windows) == 300


def test_duplicate_predictions_latest_wins_and_unmatched_labels_counted() -> None:
    pred, lab = _log(2000, seed=2)
    stale = pred.head(300).assign(timestamp=pred.timestamp.head(300) - pd.Timedelta(minutes=5), score=0.99)
    report = performance(pd.concat([stale, pred]), pd.concat([lab, lab.head(7).assign(id=lambda d: d.id + 50_000)]))
    assert report.n_duplicate_predictions == 300 and report.n_unmatched_labels == 7
    assert report.overall.n == 2000
    assert report.overall.metrics["auc"].value == pytest.approx(roc_auc_score(lab.label, pred.score), abs=1e-12)
    assert "300 repeated prediction ids" in report.summary() and "7 labels matched no prediction" in report.summary()


def test_duplicate_labels_need_a_rule() -> None:
    pred, lab = _log(500)
    flipped = lab.head(10).assign(label=1 - lab.label.head(10))
    with pytest.raises(InvalidInputError, match=r"conflicting labels.*label_timestamp_column"):
        performance(pred, pd.concat([lab, flipped]))
    stamped = pd.concat([lab.assign(at=T0), flipped.assign(at=T0 + pd.Timedelta(days=9))])
    report = performance(pred, stamped, label_timestamp_column="at", window=None)
    truth = lab.label.to_numpy().copy()
    truth[:10] = 1 - truth[:10]
    assert report.n_duplicate_labels == 10
    assert report.overall.metrics["accuracy"].value == pytest.approx(accuracy_score(truth, pred.score >= 0.5))
    same = performance(pred, pd.concat([lab, lab.head(10)]), window=None)  # identical repeats are fine
    assert same.n_duplicate_labels == 10 and same.overall.n_labelled == 500


def test_missing_scores_and_timestamps_are_counted_and_left_out() -> None:
    pred, lab = _log(1000)
    pred.loc[:9, "score"] = np.nan
    pred["timestamp"] = pred.timestamp.astype(object)
    pred.loc[10:14, "timestamp"] = None
    pred["timestamp"] = pd.to_datetime(pred.timestamp)
    report = performance(pred, lab)
    assert report.n_missing_score == 10 and report.n_missing_timestamp == 5 and report.overall.n_missing_score == 10
    keep = pred.score.notna() & pred.timestamp.notna()
    assert report.overall.n == keep.sum()
    assert report.overall.metrics["log_loss"].value == pytest.approx(log_loss(lab.label[keep], pred.score[keep]))
    assert "10 predictions had no score" in report.summary()


def test_inline_labels_with_nulls_and_no_id_column() -> None:
    pred, lab = _log(800)
    df = pred.drop(columns=["id", "timestamp"]).assign(label=lab.label.astype("float64"))
    df.loc[700:, "label"] = np.nan  # not arrived yet
    report = performance(df, window=None)
    assert report.overall.n_labelled == 700 and report.n_labels == 700
    assert report.overall.metrics["auc"].value == pytest.approx(roc_auc_score(lab.label[:700], pred.score[:700]))


def test_calibration_bins_and_ece() -> None:
    pred, lab = _log(3000, seed=4)
    report = performance(pred, lab, window=None, calibration_bins=10)
    s, y = pred.score.to_numpy(), lab.label.to_numpy()
    b = np.minimum((s * 10).astype(int), 9)
    ece = sum(abs(s[b == k].mean() - y[b == k].mean()) * (b == k).mean() for k in np.unique(b))
    assert report.overall.metrics["ece"].value == pytest.approx(ece, abs=1e-12)
    bins = report.overall.calibration
    assert sum(c.n for c in bins) == 3000 and all(c.ci_low <= c.observed_rate <= c.ci_high for c in bins)


def test_summary_reports_decay_beyond_noise() -> None:
    pred, lab = _log(8000, seed=5, days=4)
    day4 = pred.timestamp >= T0 + pd.Timedelta(days=3)
    rng = np.random.default_rng(9)
    lab.loc[day4.to_numpy(), "label"] = (rng.uniform(size=day4.sum()) < 0.4).astype("int64")  # concept shift
    text = performance(pred, lab).summary()
    assert "AUC fell from" in text and "beyond sampling noise" in text and "2024-03-07" in text
    steady = performance(*_log(8000, seed=6)).summary()
    assert "within sampling noise" in steady


def test_start_end_filter() -> None:
    pred, lab = _log(2000, days=4)
    report = performance(pred, lab, start="2024-03-05", end=dt.datetime(2024, 3, 7))
    assert [w.start.day for w in report.windows] == [5, 6]
    assert report.n_predictions == ((pred.timestamp >= "2024-03-05") & (pred.timestamp < "2024-03-07")).sum()
    with pytest.raises(InvalidInputError, match="inside start/end"):
        performance(pred, lab, start="2030-01-01")


def test_string_ids_join_integer_ids() -> None:
    pred, lab = _log(500)
    report = performance(pred.assign(id=pred.id.astype(str)), lab, window=None)
    assert report.overall.n_labelled == 500 and report.n_unmatched_labels == 0


def test_regression_metrics_match_sklearn_and_intervals_are_sane() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    y = 1000 + 50 * rng.normal(size=n)  # a large mean: power sums are centred for precision
    pred = pd.DataFrame({"id": np.arange(n), "timestamp": T0, "score": y + rng.normal(3, 20, n)})
    report = performance(pred, pd.DataFrame({"id": np.arange(n), "label": y}), task="regression", window=None)
    m = report.overall.metrics
    e = pred.score.to_numpy() - y
    assert m["mae"].value == pytest.approx(mean_absolute_error(y, pred.score))
    assert m["rmse"].value == pytest.approx(math.sqrt(np.mean(e**2)))
    assert m["bias"].value == pytest.approx(e.mean())
    assert m["r2"].value == pytest.approx(r2_score(y, pred.score), abs=1e-9)
    # interval half-widths agree with a bootstrap standard error (within 20%)
    idx = rng.integers(0, n, size=(300, n))
    boot_r2 = [r2_score(y[i], pred.score.to_numpy()[i]) for i in idx]
    boot_rmse = [math.sqrt(np.mean(e[i] ** 2)) for i in idx]
    for name, boot in (("r2", boot_r2), ("rmse", boot_rmse)):
        half = (m[name].ci_high - m[name].ci_low) / 2 / 1.96
        assert half == pytest.approx(np.std(boot), rel=0.2), name
    assert "RMSE" in report.summary()


def test_bad_input_is_refused_with_a_fix() -> None:
    pred, lab = _log(100)
    with pytest.raises(InvalidInputError, match=r"no column 'proba' \(score_column\).*'feature'"):
        performance(pred, lab, score_column="proba")
    with pytest.raises(InvalidInputError, match=r"labels.*no column 'outcome'"):
        performance(pred, lab, label_column="outcome")
    with pytest.raises(InvalidInputError, match="values other than 0 and 1"):
        performance(pred, lab.assign(label=lab.label * 2))
    with pytest.raises(InvalidInputError, match=r"outside \[0, 1\].*1 / \(1 \+ exp"):
        performance(pred.assign(score=pred.score * 4 - 2), lab)
    with pytest.raises(InvalidInputError, match="empty"):
        performance(pred.head(0), lab)
    with pytest.raises(InvalidInputError, match="not numeric or boolean"):
        performance(pred, lab.assign(label=np.where(lab.label == 1, "yes", "no")))
    with pytest.raises(InvalidInputError, match="window="):
        performance(pred, lab, window="fortnightly")
    with pytest.raises(InvalidInputError, match="task="):
        performance(pred, lab, task="ranking")  # type: ignore[arg-type]
    empty_labels = performance(pred, lab.head(0), window=None)
    assert empty_labels.overall.status == "awaiting_labels" and "No labels have arrived" in empty_labels.summary()


def test_boolean_labels_are_read_as_0_1() -> None:
    pred, lab = _log(300)
    report = performance(pred, lab.assign(label=lab.label.astype(bool)), window=None)
    assert report.overall.metrics["auc"].value == pytest.approx(roc_auc_score(lab.label, pred.score))


# -- the same SQL on every engine ------------------------------------------------------------------------------------
def test_key_paths_on_each_engine(backend_engine: Engine) -> None:
    pred, lab = _log(1500, seed=11, days=3)
    pred.loc[:4, "score"] = np.nan
    stale = pred.iloc[5:25].assign(timestamp=pred.timestamp.iloc[5:25] - pd.Timedelta(minutes=1), score=0.01)
    backend_engine.register("perf_pred", pd.concat([stale, pred], ignore_index=True))
    backend_engine.register("perf_lab", lab.iloc[:1200].assign(at=T0))
    report = performance("perf_pred", "perf_lab", engine=backend_engine, label_timestamp_column="at")
    reference = performance(pd.concat([stale, pred], ignore_index=True), lab.iloc[:1200], window="1d")
    assert report.n_duplicate_predictions == 20 and report.n_missing_score == 5
    assert [w.status for w in report.windows] == [w.status for w in reference.windows]
    for got, want in zip([*report.windows, report.overall], [*reference.windows, reference.overall], strict=True):
        assert (got.start, got.n, got.n_labelled) == (want.start, want.n, want.n_labelled)
        for name in ("auc", "log_loss", "brier", "f1", "ece"):
            a, b = got.metrics[name], want.metrics[name]
            assert a.value == pytest.approx(b.value, abs=1e-9, nan_ok=True), name
            assert a.ci_low == pytest.approx(b.ci_low, abs=1e-9, nan_ok=True), name
    reg = performance("perf_pred", "perf_lab", engine=backend_engine, task="regression", window=None,
                      label_timestamp_column="at")  # fmt: skip
    joined = pred.iloc[5:1200]
    assert reg.overall.metrics["rmse"].value == pytest.approx(
        math.sqrt(np.mean((joined.score - lab.label.iloc[5:1200]) ** 2))
    )
