"""Ratio metrics via the delta method (Deng et al. 2018): per-unit agreement and coverage on clustered data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.experiments import stats


def _sessions(rng: np.random.Generator, n: int, click_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Users with heterogeneous session counts and click-through rates: sessions within a user correlate."""
    sessions = rng.poisson(rng.gamma(2.0, 2.0, n)) + 1.0
    rates = rng.beta(2.0, 2.0 * (1 - click_rate) / click_rate, n)
    return rng.binomial(sessions.astype(int), rates).astype(float), sessions


def test_matches_per_unit_linearisation() -> None:
    rng = np.random.default_rng(30)
    (y_c, d_c), (y_t, d_t) = _sessions(rng, 300, 0.3), _sessions(rng, 350, 0.33)
    r = stats.ratio_ttest(
        stats.RatioStats.from_values(y_c, d_c), stats.RatioStats.from_values(y_t, d_t), relative=False
    )
    r_c, r_t = y_c.sum() / d_c.sum(), y_t.sum() / d_t.sum()
    lin_c, lin_t = (y_c - r_c * d_c) / d_c.mean(), (y_t - r_t * d_t) / d_t.mean()
    se = math.sqrt(lin_c.var(ddof=1) / lin_c.size + lin_t.var(ddof=1) / lin_t.size)
    assert r.estimate == pytest.approx(r_t - r_c, rel=1e-12)
    assert r.se == pytest.approx(se, rel=1e-9)
    assert (r.control_mean, r.treatment_mean) == pytest.approx((r_c, r_t))
    # relative lift: delta method on the two ratios
    rel = stats.ratio_ttest(stats.RatioStats.from_values(y_c, d_c), stats.RatioStats.from_values(y_t, d_t))
    v_c, v_t = lin_c.var(ddof=1) / lin_c.size, lin_t.var(ddof=1) / lin_t.size
    assert rel.estimate == pytest.approx(r_t / r_c - 1)
    assert rel.se == pytest.approx(math.sqrt(v_t / r_c**2 + r_t**2 * v_c / r_c**4), rel=1e-9)


def test_delta_method_covers_where_naive_session_level_test_does_not() -> None:
    """2,000 simulated A/B tests on clicks per session: the delta-method CI covers the true lift ~95%."""
    rng = np.random.default_rng(31)
    n, sims = 400, 2000
    true_c, true_t = 0.30, 0.33  # E[clicks]/E[sessions] = E[rate] since sessions and rates are independent
    covered, naive_covered = [], []
    for _ in range(sims):
        arms, naive = [], []
        for rate in (true_c, true_t):
            y, d = _sessions(rng, n, rate)
            arms.append(stats.RatioStats.from_values(y, d))
            naive.append(stats.MeanStats(int(d.sum()), y.sum(), y.sum()))  # sessions as independent trials
        r = stats.ratio_ttest(arms[0], arms[1], relative=False)
        covered.append(r.ci_low <= true_t - true_c <= r.ci_high)
        w = stats.ttest(naive[0], naive[1], relative=False)
        naive_covered.append(w.ci_low <= true_t - true_c <= w.ci_high)
    assert 0.935 <= np.mean(covered) <= 0.965
    assert np.mean(naive_covered) < 0.9


def test_zero_denominator_is_undefined_ratio() -> None:
    ok = stats.RatioStats.from_values([1.0, 2.0, 0.0], [2.0, 3.0, 1.0])
    empty = stats.RatioStats(3, 0.0, 0.0, 0.0, 0.0, 0.0)
    r = stats.ratio_ttest(empty, ok)
    assert r.status == "undefined_ratio" and "denominator sums to 0" in r.warnings[0]
    assert math.isnan(r.estimate) and math.isnan(r.p_value)
    assert stats.ratio_ttest(stats.RatioStats(1, 1.0, 1.0, 2.0, 4.0, 2.0), ok).status == "insufficient_data"


def test_rejects_mean_stats() -> None:
    with pytest.raises(InvalidInputError, match="'control' parameter of ratio_ttest must be RatioStats"):
        stats.ratio_ttest(stats.MeanStats(2, 1, 1), stats.MeanStats(2, 1, 1))  # type: ignore[arg-type]
