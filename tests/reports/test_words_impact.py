"""Plain-language numbers and the projected-impact arithmetic (pure functions)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from assay.errors import InvalidInputError
from assay.reports import BusinessInputs, project_impact
from assay.reports.words import chance, interval_words, money, money_interval, pct


def test_interval_words_read_like_the_brief() -> None:
    assert interval_words(0.023, 0.008, 0.039) == "between +0.8% and +3.9%, most likely +2.3%"
    assert interval_words(-0.012, -0.03, 0.006) == "between -3.0% and +0.6%, most likely -1.2%"
    assert interval_words(0.02, None, 0.05) == "at most +5.0%, most likely +2.0%"
    assert interval_words(0.02, -math.inf, 0.05) == "at most +5.0%, most likely +2.0%"  # stored one-sided bound
    assert interval_words(0.02, 0.01, math.inf) == "at least +1.0%, most likely +2.0%"
    assert interval_words(0.5, 0.25, 0.75, relative=False) == "between +0.25 and +0.75, most likely +0.5"
    assert interval_words(0.02, None, None).endswith("(no interval could be computed)")


def test_money_and_probabilities() -> None:
    assert money(1_234_567) == "$1.23M"
    assert money(-48_200, "€") == "-€48.2k"
    assert money(999_999) == "$1M"
    assert money(2.5e9) == "$2.5B"
    assert money(512) == "$512"
    assert money_interval(230_000, 80_000, 390_000) == "between $80k and $390k, most likely $230k"
    assert pct(0.4127, sign=False) == "41.3%" and pct(-0.004) == "-0.4%"
    assert (chance(0.999), chance(0.004), chance(0.84)) == ("over 99%", "under 1%", "about 84%")


def test_impact_is_the_interval_scaled_to_money() -> None:
    inputs = BusinessInputs(baseline_revenue=10e6, exposed_share=0.5, horizon_years=2)
    imp = project_impact(0.023, 0.008, 0.039, inputs, metric="conversion", se=0.008)
    factor = 10e6 * 0.5 * 2
    assert imp.status == "ok"
    assert (imp.estimate, imp.low, imp.high) == pytest.approx((0.023 * factor, 0.008 * factor, 0.039 * factor))
    assert imp.probability_positive == pytest.approx(stats.norm.cdf(0.023 / 0.008))
    assert imp.period == "over 2 years"
    assert any("50%" in a for a in imp.assumptions) and any("$10M" in a for a in imp.assumptions)
    assert imp.summary().startswith("Projected impact over 2 years: between $80k and $390k, most likely $230k")


def test_a_fall_in_a_decrease_metric_counts_as_a_gain() -> None:
    imp = project_impact(
        -0.05, -0.08, -0.02, BusinessInputs(baseline_revenue=1e6), metric="churn", direction="decrease"
    )
    assert (imp.estimate, imp.low, imp.high) == pytest.approx((50_000, 20_000, 80_000))
    assert any("should fall" in a for a in imp.assumptions)


def test_absolute_lifts_are_read_against_the_control_mean() -> None:
    imp = project_impact(0.5, 0.2, 0.8, BusinessInputs(baseline_revenue=1e6), relative=False, control_mean=10.0)
    assert (imp.lift, imp.lift_low, imp.lift_high) == pytest.approx((0.05, 0.02, 0.08))
    assert imp.estimate == pytest.approx(50_000)
    assert project_impact(0.5, 0.2, 0.8, relative=False, control_mean=None).status == "not_estimable"


def test_without_a_baseline_nothing_is_invented() -> None:
    imp = project_impact(0.02, 0.01, 0.03)
    assert imp.status == "no_baseline" and imp.low is None and math.isnan(imp.estimate)
    assert "--baseline-revenue" in imp.summary()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline_revenue": -5}, "'baseline_revenue' parameter must be a positive number"),
        ({"baseline_revenue": math.inf}, "'baseline_revenue'"),
        ({"exposed_share": 0}, r"'exposed_share' parameter must be in \(0, 1\]"),
        ({"horizon_years": 11}, "'horizon_years'"),
        ({"currency": "dollars dollars"}, "'currency'"),
    ],
)
def test_bad_business_inputs_say_what_to_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        BusinessInputs(**kwargs)
