"""Sample-ratio mismatch: chi-square against configured weights, matching scipy.stats.chisquare."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.errors import InvalidInputError
from assay.experiments import stats


def test_documented_example() -> None:
    r = stats.srm([1000, 1200], [0.5, 0.5])
    assert not r.ok and r.p_value == pytest.approx(2.0079e-05, rel=1e-4)
    assert r.summary().startswith("Sample ratio mismatch")
    assert stats.srm([1000, 1030], [0.5, 0.5]).summary().startswith("Sample ratio OK")


def test_matches_scipy_chisquare_on_random_inputs() -> None:
    rng = np.random.default_rng(80)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        weights = rng.uniform(0.1, 1.0, k)
        counts = rng.multinomial(int(rng.integers(100, 100_000)), weights / weights.sum())
        r = stats.srm(counts.tolist(), weights.tolist())
        expected = counts.sum() * weights / weights.sum()
        ref = sps.chisquare(counts, expected)
        assert r.statistic == pytest.approx(ref.statistic, rel=1e-9)
        assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert r.df == k - 1 and r.ok == (ref.pvalue >= 0.001)


def test_threshold_and_false_alarm_rate() -> None:
    assert stats.srm([1000, 1100], [1, 1]).ok
    assert not stats.srm([1000, 1100], [1, 1], threshold=0.05).ok
    counts = np.random.default_rng(81).binomial(10_000, 0.5, 2000)
    alarms = [not stats.srm([c, 10_000 - c], [0.5, 0.5]).ok for c in counts]
    assert np.mean(alarms) < 0.005


def test_no_units_and_small_counts() -> None:
    r = stats.srm([0, 0], [0.5, 0.5])
    assert r.ok and r.status == "insufficient_data" and math.isnan(r.p_value)
    assert r.to_dict()["p_value"] is None and "not checked" in r.summary()
    assert any("below 5" in w for w in stats.srm([3, 4], [0.5, 0.5]).warnings)


@pytest.mark.parametrize(
    ("counts", "weights", "fragment"),
    [
        ([10], [1.0], "at least 2 arms"),
        ([10, 10], [1.0], "one count and one weight per arm"),
        ([10, -1], [1.0, 1.0], "'counts' parameter of srm must be an integer >= 0"),
        ([10, 10], [1.0, 0.0], "'weights' parameter of srm must be a positive number"),
    ],
)
def test_invalid_input(counts: list, weights: list, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        stats.srm(counts, weights)
    assert fragment in str(info.value)
