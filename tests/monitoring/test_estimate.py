"""assay.monitoring.estimate: CBPE, a label-free estimate of classifier performance."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from assay.engine import Engine
from assay.errors import InvalidInputError
from assay.monitoring.estimate import estimate_performance, expected_auc, hanley_mcneil_se

T0 = pd.Timestamp("2024-03-04")
TOLERANCE = 0.02  # |estimate - realised| for 20k rows of calibrated scores (sampling sd is ~0.003-0.006)


def _realised(y: np.ndarray, s: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    yp = (s >= threshold).astype(int)
    return {
        "auc": roc_auc_score(y, s), "accuracy": accuracy_score(y, yp), "precision": precision_score(y, yp),
        "recall": recall_score(y, yp), "f1": f1_score(y, yp), "positive_rate": y.mean(),
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_calibrated_scores_without_concept_shift_estimate_the_realised_metrics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.beta(2, 3, 20_000)
    y = (rng.uniform(size=s.size) < s).astype(int)  # labels ~ Bernoulli(score): calibrated, no shift
    est = estimate_performance(pd.DataFrame({"score": s}))
    for name, value in _realised(y, s).items():
        m = est.overall.metrics[name]
        assert m.value == pytest.approx(value, abs=TOLERANCE), name
        assert m.ci_low < m.value < m.ci_high, name
    assert est.is_estimate and est.method == "CBPE" and not est.calibrated


def test_band_covers_the_realised_metric_most_of_the_time() -> None:
    hits, trials = 0, 40
    rng = np.random.default_rng(99)
    s = rng.beta(2, 2, 3000)
    est = estimate_performance(pd.DataFrame({"score": s}), alpha=0.1).overall.metrics["accuracy"]
    for _ in range(trials):
        y = (rng.uniform(size=s.size) < s).astype(int)
        hits += est.ci_low <= accuracy_score(y, s >= 0.5) <= est.ci_high
    assert hits >= 0.75 * trials  # nominal 90%


def test_reference_calibration_fixes_miscalibrated_scores() -> None:
    rng = np.random.default_rng(1)
    true_p = rng.beta(2, 3, 20_000)
    y = (rng.uniform(size=true_p.size) < true_p).astype(int)
    ref_p = rng.beta(2, 3, 20_000)
    reference = pd.DataFrame({"score": ref_p**2, "label": (rng.uniform(size=ref_p.size) < ref_p).astype(int)})
    current = pd.DataFrame({"score": true_p**2})  # the model's scores are too low: p**2
    raw = estimate_performance(current)
    calibrated = estimate_performance(current, reference=reference)
    realised = _realised(y, true_p**2)
    assert calibrated.calibrated and calibrated.reference_rows == 20_000 and calibrated.reference_ece > 0.1
    for name in ("auc", "accuracy", "recall", "positive_rate"):
        assert calibrated.overall.metrics[name].value == pytest.approx(realised[name], abs=TOLERANCE), name
    assert abs(raw.overall.metrics["positive_rate"].value - realised["positive_rate"]) > 0.1
    assert "calibrated on 20,000 labelled reference rows" in calibrated.summary()
    unused = estimate_performance(current, reference=reference, calibrate=False)
    assert not unused.calibrated and unused.notes


def test_concept_shift_is_invisible_to_the_estimate() -> None:
    """Documented limitation: when P(y | x) changes, the scores do not, and neither does the estimate."""
    rng = np.random.default_rng(2)
    s = rng.beta(2, 3, 20_000)
    y_shifted = (rng.uniform(size=s.size) < 0.5 * s + 0.25).astype(int)  # the world moved; the model did not
    est = estimate_performance(pd.DataFrame({"score": s}))
    realised = _realised(y_shifted, s)
    assert est.overall.metrics["auc"].value - realised["auc"] > 0.1
    assert "cannot see" in est.summary() and "concept shift" in est.summary()


def test_windows_and_summary_say_estimate() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    ts = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, n)), unit="s")
    s = np.where(ts < T0 + pd.Timedelta(days=2), rng.beta(1, 1, n), rng.beta(5, 5, n))  # scores lose confidence
    s[:3] = np.nan
    est = estimate_performance(pd.DataFrame({"ts": ts, "score": s}), timestamp_column="ts", window="1d")
    assert [w.start.day for w in est.windows] == [4, 5, 6] and est.n_missing_score == 3
    assert est.windows[0].n_missing_score == 3 and sum(w.n for w in est.windows) == n - 3
    assert est.windows[2].metrics["auc"].value < est.windows[0].metrics["auc"].value - 0.1
    text = est.summary()
    assert text.startswith("ESTIMATED") and "Estimated AUC fell" in text and "3 predictions had no score" in text
    assert set(est.windows[0].expected_confusion) == {"tp", "fp", "fn", "tn"}
    json.dumps(est.to_dict())
    assert "estimated_auc" in est.to_frame()


def test_expected_auc_matches_the_unbinned_expected_roc() -> None:
    rng = np.random.default_rng(4)
    s = np.sort(rng.uniform(size=2000))  # distinct scores: each is its own bin
    pos, neg = s, 1 - s
    below = np.cumsum(neg) - neg
    direct = np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum())
    assert expected_auc(pos, neg) == pytest.approx(direct)
    binned = estimate_performance(pd.DataFrame({"score": s}), bins=1_000_000).overall.metrics["auc"].value
    assert binned == pytest.approx(direct, abs=1e-6)
    assert math.isnan(expected_auc(np.zeros(3), np.ones(3)))
    assert hanley_mcneil_se(0.5, 100, 100) == pytest.approx(math.sqrt((0.25 + 99 * (1 / 3 - 0.25) * 2) / 1e4))


def test_bad_input() -> None:
    df = pd.DataFrame({"score": [0.1, 0.7, 0.4]})
    with pytest.raises(InvalidInputError, match=r"no column 'p'.*'score'"):
        estimate_performance(df, score_column="p")
    with pytest.raises(InvalidInputError, match="outside \\[0, 1\\]"):
        estimate_performance(df.assign(score=[0.1, 3.0, -1.0]))
    with pytest.raises(InvalidInputError, match="empty"):
        estimate_performance(df.head(0))
    with pytest.raises(InvalidInputError, match="all one class"):
        estimate_performance(df, reference=df.assign(label=1))
    with pytest.raises(InvalidInputError, match="only 0 and 1"):
        estimate_performance(df, reference=df.assign(label=[0, 1, 2]))
    with pytest.raises(InvalidInputError, match="timestamp_column"):
        estimate_performance(df, window="1d")


def test_same_estimate_on_each_engine(backend_engine: Engine) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    df = pd.DataFrame({"ts": T0 + pd.to_timedelta(rng.uniform(0, 2 * 86400, n), unit="s"), "score": rng.beta(2, 3, n)})
    ref = pd.DataFrame({"score": rng.beta(2, 3, n), "label": rng.integers(0, 2, n)})
    backend_engine.register("est_pred", df)
    backend_engine.register("est_ref", ref)
    got = estimate_performance(
        "est_pred", engine=backend_engine, timestamp_column="ts", window="1d", reference="est_ref"
    )
    want = estimate_performance(df, timestamp_column="ts", window="1d", reference=ref)
    assert len(got.windows) == len(want.windows) == 2
    for a, b in zip([*got.windows, got.overall], [*want.windows, want.overall], strict=True):
        assert (a.start, a.n) == (b.start, b.n)
        for name, m in a.metrics.items():
            assert m.value == pytest.approx(b.metrics[name].value, abs=1e-9), name
