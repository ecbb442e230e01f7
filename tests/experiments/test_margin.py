"""Non-inferiority and guardrail tests: one-sided Welch tests against a shifted null."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.errors import InvalidInputError
from assay.experiments import stats


def from_moments(mean: float, sd: float, n: int) -> stats.MeanStats:
    return stats.MeanStats(n, n * mean, (n - 1) * sd * sd + n * mean * mean)


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_absolute_margin_tests_match_shifted_scipy_tests(higher_is_better: bool) -> None:
    rng = np.random.default_rng(70)
    for _ in range(100):
        n_c, n_t = (int(v) for v in rng.integers(20, 3000, 2))
        m_c, s_c, s_t = rng.normal(5, 1), rng.uniform(0.5, 3), rng.uniform(0.5, 3)
        m_t = m_c + rng.normal(0, 0.2)
        margin = float(rng.uniform(0.01, 0.5))
        c, t = from_moments(m_c, s_c, n_c), from_moments(m_t, s_t, n_t)
        ni = stats.noninferiority_ttest(c, t, margin=margin, relative=False, higher_is_better=higher_is_better)
        gr = stats.guardrail_ttest(c, t, margin=margin, relative=False, higher_is_better=higher_is_better)
        shift = margin if higher_is_better else -margin  # H0 of non-inferiority: Δ = −margin (or +margin)
        sides = ("greater", "less") if higher_is_better else ("less", "greater")
        ref_ni = sps.ttest_ind_from_stats(m_t + shift, s_t, n_t, m_c, s_c, n_c, equal_var=False, alternative=sides[0])
        ref_gr = sps.ttest_ind_from_stats(m_t + shift, s_t, n_t, m_c, s_c, n_c, equal_var=False, alternative=sides[1])
        assert ni.p_value == pytest.approx(ref_ni.pvalue, rel=1e-7, abs=1e-300)
        assert gr.p_value == pytest.approx(ref_gr.pvalue, rel=1e-7, abs=1e-300)
        assert ni.passed == (ref_ni.pvalue < 0.05)
        assert gr.passed == (ref_gr.pvalue >= 0.05)


def test_noninferiority_verdicts_and_summaries() -> None:
    c = stats.MeanStats(20_000, 2000, 2000)  # 10.0%
    flat = stats.MeanStats(20_000, 1990, 1990)  # 9.95%
    ni = stats.noninferiority_ttest(c, flat, margin=0.1)
    assert ni.passed and ni.kind == "noninferiority" and ni.test.null_value == -0.1
    assert ni.summary().startswith("Treatment is non-inferior to control")
    assert not stats.noninferiority_ttest(c, flat, margin=0.01).passed
    worse = stats.MeanStats(20_000, 1700, 1700)
    gr = stats.guardrail_ttest(c, worse)
    assert gr.passed is False and gr.summary().startswith("Guardrail failed")
    assert stats.guardrail_ttest(c, flat, margin=0.02).summary().startswith("Guardrail OK")


def test_lower_is_better_flips_direction() -> None:
    latency_c = from_moments(200.0, 50.0, 5000)
    latency_t = from_moments(230.0, 50.0, 5000)  # 15% slower
    assert stats.guardrail_ttest(latency_c, latency_t, margin=0.05, higher_is_better=False).passed is False
    assert stats.guardrail_ttest(latency_c, latency_t, margin=0.05, higher_is_better=True).passed is True


def test_margin_tests_accept_ratio_and_cuped_stats() -> None:
    rng = np.random.default_rng(71)
    x = rng.normal(10, 2, (2, 2000))
    y = x + rng.normal(0, 1, (2, 2000))
    arms = [stats.CupedStats.from_values(y[a], x[a]) for a in (0, 1)]
    r = stats.noninferiority_ttest(arms[0], arms[1], margin=0.02)
    assert r.test.method == "noninferiority_cuped_welch_t" and r.passed
    assert stats.noninferiority_ttest(arms[0].metric, arms[1].metric, margin=0.02).test.se > r.test.se


def test_degenerate_and_invalid() -> None:
    r = stats.noninferiority_ttest(stats.MeanStats(1, 1, 1), stats.MeanStats(5, 2, 2), margin=0.1)
    assert r.passed is None and r.status == "insufficient_data" and math.isnan(r.p_value)
    with pytest.raises(InvalidInputError, match="'margin' parameter of noninferiority_ttest must be a positive"):
        stats.noninferiority_ttest(stats.MeanStats(5, 2, 2), stats.MeanStats(5, 2, 2), margin=0)
    with pytest.raises(InvalidInputError, match="same statistics type"):
        stats.guardrail_ttest(stats.MeanStats(5, 2, 2), stats.RatioStats(5, 2, 2, 5, 5, 2))  # type: ignore[arg-type]
