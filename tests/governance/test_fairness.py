"""Fairness audit: agreement with fairlearn, interval coverage by simulation, degenerate and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from assay.errors import InvalidInputError
from assay.governance.fairness import MISSING_GROUP, FairnessReport, fairness


def _biased(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(sex == "M", 0.4, 0.3)).astype(int)
    score = np.clip(0.25 * y + 0.3 + 0.12 * (sex == "M") + 0.05 * (region == "east") + rng.normal(0, 0.2, n), 0, 1)
    pred = (score >= 0.5).astype(int)
    return y, pred, score, pd.DataFrame({"sex": sex, "region": region})


def _group(report: FairnessReport, feature: str, group: str):
    return next(g for g in report.by_group if g.feature == feature and g.group == group)


def test_per_group_rates_match_fairlearn_metricframe() -> None:
    y, pred, _, sens = _biased()
    report = fairness(y, pred, sens["region"], n_bootstrap=0)
    frame = MetricFrame(
        metrics={
            "n": count,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "precision": precision_score,
        },
        y_true=y,
        y_pred=pred,
        sensitive_features=sens["region"],
    ).by_group
    for group, row in frame.iterrows():
        mine = _group(report, "region", str(group))
        assert mine.n == row["n"]
        for metric in ("selection_rate", "true_positive_rate", "false_positive_rate", "precision"):
            assert getattr(mine, metric) == pytest.approx(row[metric], abs=1e-12)


def test_intersectional_gaps_match_fairlearn() -> None:
    y, pred, _, sens = _biased()
    report = fairness(y, pred, sens)
    assert report.feature == "sex & region"
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=sens)
    )
    assert report.demographic_parity_ratio == pytest.approx(demographic_parity_ratio(y, pred, sensitive_features=sens))
    assert report.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=sens)
    )
    assert report.four_fifths_passed is (report.demographic_parity_ratio >= 0.8)
    by_feature = {d.feature: d for d in report.disparities}
    assert set(by_feature) == {"sex", "region", "sex & region"}
    assert by_feature["sex"].demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=sens["sex"])
    )
    mf = MetricFrame(metrics=selection_rate, y_true=y, y_pred=pred, sensitive_features=sens).by_group
    assert _group(report, "sex & region", "M & east").selection_rate == pytest.approx(mf.loc[("M", "east")])
    lo, hi = report.demographic_parity_difference_ci
    assert lo <= report.demographic_parity_difference <= hi or lo > 0  # max-min bootstrap is biased upward


def test_scores_give_predictions_and_calibration() -> None:
    y, _, score, sens = _biased()
    report = fairness(y, y_score=score, sensitive_features=sens["sex"], threshold=0.5)
    same = fairness(y, (score >= 0.5).astype(int), sens["sex"])
    assert report.demographic_parity_difference == pytest.approx(same.demographic_parity_difference)
    women = _group(report, "sex", "F")
    mask = sens["sex"].to_numpy() == "F"
    assert women.mean_score == pytest.approx(score[mask].mean())
    assert women.observed_rate == pytest.approx(y[mask].mean())
    assert women.calibration_gap == pytest.approx(score[mask].mean() - y[mask].mean())
    lo, hi = women.calibration_gap_ci
    assert lo < women.calibration_gap < hi
    assert math.isnan(same.by_group[0].calibration_gap)


def test_interval_coverage_by_simulation() -> None:
    """Two groups with selection rates 0.30 and 0.45: 95% intervals should cover the truth ~95% of the time."""
    rng = np.random.default_rng(7)
    reps, n = 200, 600
    cover_rate = cover_gap = 0
    for _ in range(reps):
        group = np.repeat(["a", "b"], n // 2)
        pred = (rng.random(n) < np.where(group == "a", 0.30, 0.45)).astype(int)
        y = rng.integers(0, 2, n)
        report = fairness(y, pred, group, n_bootstrap=300, random_state=int(rng.integers(1 << 31)))
        lo, hi = _group(report, "group", "a").selection_rate_ci
        cover_rate += lo <= 0.30 <= hi
        lo, hi = report.demographic_parity_difference_ci
        cover_gap += lo <= 0.15 <= hi
    assert 0.88 <= cover_rate / reps <= 0.99
    assert 0.88 <= cover_gap / reps <= 0.99


def test_small_groups_are_reported_not_judged() -> None:
    y, pred, _, sens = _biased(2000)
    group = sens["sex"].to_numpy().copy()
    group[:12] = "X"
    pred = pred.copy()
    pred[:12] = 1  # an extreme, tiny group
    report = fairness(y, pred, group, min_group_size=30)
    tiny = _group(report, "group", "X")
    assert tiny.status == "insufficient" and tiny.n == 12 and tiny.selection_rate == 1.0
    assert report.disparities[0].groups_compared == ("F", "M")
    big = group != "X"
    expected = demographic_parity_difference(y[big], pred[big], sensitive_features=group[big])
    assert report.demographic_parity_difference == pytest.approx(expected)
    assert "not compared" in report.summary()


def test_single_group_and_too_small_groups() -> None:
    y, pred, _, _ = _biased(500)
    single = fairness(y, pred, ["all"] * 500)
    assert single.status == "single_group"
    assert math.isnan(single.demographic_parity_difference) and single.four_fifths_passed is None
    assert "only one group" in single.summary()
    small = fairness(y[:40], pred[:40], ["a", "b"] * 20, min_group_size=30)
    assert small.status == "insufficient" and math.isnan(small.equalized_odds_difference)
    assert "could not be judged" in small.summary()


def test_missing_sensitive_values_form_a_group_left_out_of_the_gaps() -> None:
    y, pred, _, sens = _biased(2000)
    sex = sens["sex"].astype(object).to_numpy().copy()
    sex[:100] = None
    report = fairness(y, pred, pd.Series(sex, name="sex"))
    missing = _group(report, "sex", MISSING_GROUP)
    assert missing.status == "missing" and missing.n == 100
    assert report.n_missing_sensitive == 100
    assert any("missing sensitive value" in w for w in report.warnings)
    keep = np.arange(2000) >= 100
    expected = demographic_parity_difference(y[keep], pred[keep], sensitive_features=sex[keep])
    assert report.demographic_parity_difference == pytest.approx(expected)


def test_one_class_labels_and_groups_without_positives() -> None:
    rng = np.random.default_rng(3)
    group = rng.choice(["a", "b"], 400)
    pred = rng.integers(0, 2, 400)
    report = fairness(np.zeros(400, dtype=int), pred, group)
    assert report.status == "one_class_labels"
    assert not math.isnan(report.demographic_parity_difference)
    assert math.isnan(report.equalized_odds_difference)
    assert all(math.isnan(g.true_positive_rate) for g in report.by_group)
    y = (rng.random(400) < 0.5).astype(int)
    y[group == "a"] = 0  # fairlearn would say TPR 0 here; the rate is undefined
    report = fairness(y, pred, group)
    assert math.isnan(_group(report, "group", "a").true_positive_rate)
    assert math.isnan(report.equalized_odds_difference)
    assert any("no positive labels" in w for w in report.warnings)


def test_missing_labels_are_dropped_and_counted() -> None:
    y, pred, _, sens = _biased(1000)
    labels = y.astype(float)
    labels[:25] = np.nan
    report = fairness(labels, pred, sens["sex"])
    assert report.n_dropped == 25 and report.n_rows == 975
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y[25:], pred[25:], sensitive_features=sens["sex"][25:])
    )


def test_string_labels_with_pos_label() -> None:
    y, pred, _, sens = _biased(1000)
    yes_no = np.where(y == 1, "yes", "no")
    report = fairness(yes_no, np.where(pred == 1, "yes", "no"), sens["sex"], pos_label="yes")
    assert report.demographic_parity_difference == pytest.approx(
        fairness(y, pred, sens["sex"]).demographic_parity_difference
    )
    with pytest.raises(InvalidInputError, match="pos_label"):
        fairness(yes_no, pred, sens["sex"])


def test_not_intersectional_headline_is_the_worst_feature() -> None:
    y, pred, _, sens = _biased()
    report = fairness(y, pred, sens, intersectional=False)
    assert {d.feature for d in report.disparities} == {"sex", "region"}
    worst = max(report.disparities, key=lambda d: d.demographic_parity_difference)
    assert report.feature == worst.feature
    assert report.demographic_parity_difference == worst.demographic_parity_difference


def test_result_renders_and_is_reproducible() -> None:
    y, pred, score, sens = _biased(1500)
    report = fairness(y, pred, sens, y_score=score, random_state=5)
    again = fairness(y, pred, sens, y_score=score, random_state=5)
    assert report == again
    frame = report.to_frame()
    assert len(frame) == len(report.by_group) == 2 + 3 + 6
    assert {"selection_rate_ci_low", "selection_rate_ci_high", "calibration_gap_ci_low"} <= set(frame.columns)
    json.dumps(report.to_dict())
    assert "four-fifths" in report.summary()
    assert "<table>" in report._repr_html_()
    assert report.by_group[0].summary().startswith("sex = F")
    no_ci = fairness(y, pred, sens["sex"], n_bootstrap=0)
    assert all(math.isnan(v) for v in no_ci.demographic_parity_difference_ci)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_true": [0, 1, 1], "y_pred": [0, 1], "sensitive_features": ["a", "b", "a"]}, "must align"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 1], "sensitive_features": ["a", "b", "a"]}, "two classes"),
        ({"y_true": [0, 1, 1], "sensitive_features": ["a", "b", "a"]}, "y_pred"),
        ({"y_true": [0, 1, 1], "y_score": [0.2, 1.4, 0.3], "sensitive_features": ["a", "b", "a"]}, "between 0 and 1"),
        ({"y_true": [], "y_pred": [], "sensitive_features": []}, "empty"),
        ({"y_true": [0, 1], "y_pred": [0, 1]}, "sensitive_features is required"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive_features": ["a"]}, "rows"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive_features": ["a", "b"], "alpha": 1.5}, "'alpha'"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive_features": ["a", "b"], "min_group_size": 0}, "min_group"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive_features": ["a", "b"], "n_bootstrap": -1}, "n_bootstrap"),
        ({"y_true": [[0, 1]], "y_pred": [0, 1], "sensitive_features": ["a", "b"]}, "one-dimensional"),
        ({"y_true": [None, None], "y_pred": [0, 1], "sensitive_features": ["a", "b"]}, "no row"),
    ],
)
def test_bad_input_raises_typed_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        fairness(**kwargs)
