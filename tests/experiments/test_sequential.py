"""Always-valid confidence sequences: peeking after every batch keeps the error rate at most alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.experiments import stats

CONTROL = stats.MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
TREATMENT = stats.MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)


def _cumulative_bernoulli(rng: np.random.Generator, rates: tuple[float, float], batch: int, looks: int, sims: int):
    """Cumulative conversions per (simulation, look, arm) when ``batch`` units per arm arrive between looks."""
    return np.cumsum(rng.binomial(batch, rates, size=(sims, looks, 2)), axis=1)


def test_peeking_after_every_batch_keeps_false_positives_below_alpha() -> None:
    """2,000 A/A tests, 40 looks of 100 units per arm each: stop at the first p < 0.05."""
    rng = np.random.default_rng(50)
    batch, looks, sims = 100, 40, 2000
    counts = _cumulative_bernoulli(rng, (0.1, 0.1), batch, looks, sims)
    sequential_hits = naive_hits = 0
    for sim in counts:
        seq = naive = False
        for look, (k_c, k_t) in enumerate(sim, start=1):
            n = look * batch
            c, t = stats.MeanStats(n, k_c, k_c), stats.MeanStats(n, k_t, k_t)
            seq = seq or stats.sequential_ttest(c, t, relative=True, tuning_n=4000).p_value < 0.05
            naive = naive or stats.ttest(c, t, relative=True).p_value < 0.05
        sequential_hits += seq
        naive_hits += naive
    assert sequential_hits / sims <= 0.05
    assert naive_hits / sims > 0.15  # the problem the sequential test solves


def test_confidence_sequence_covers_true_lift_at_all_looks() -> None:
    rng = np.random.default_rng(51)
    batch, looks, sims = 200, 25, 1000
    counts = _cumulative_bernoulli(rng, (0.10, 0.11), batch, looks, sims)
    missed = 0
    for sim in counts:
        for look, (k_c, k_t) in enumerate(sim, start=1):
            n = look * batch
            r = stats.sequential_ttest(stats.MeanStats(n, k_c, k_c), stats.MeanStats(n, k_t, k_t), relative=False)
            if not r.ci_low <= 0.01 <= r.ci_high:
                missed += 1
                break
    assert missed / sims <= 0.05


def test_detects_a_real_effect() -> None:
    rng = np.random.default_rng(52)
    counts = _cumulative_bernoulli(rng, (0.10, 0.13), 500, 20, 200)
    detected = [
        any(
            stats.sequential_ttest(
                stats.MeanStats(n, k_c, k_c), stats.MeanStats(n, k_t, k_t), tuning_n=10_000
            ).significant
            for n, (k_c, k_t) in zip(range(500, 10_001, 500), sim, strict=True)
        )
        for sim in counts
    ]
    assert np.mean(detected) > 0.9


def test_interval_wider_than_fixed_horizon_and_consistent_with_p_value() -> None:
    fixed = stats.ttest(CONTROL, TREATMENT, relative=False)
    seq = stats.sequential_ttest(CONTROL, TREATMENT, relative=False)
    assert seq.estimate == fixed.estimate and seq.se == pytest.approx(fixed.se)
    assert seq.ci_low < fixed.ci_low and seq.ci_high > fixed.ci_high
    assert seq.p_value > fixed.p_value
    rng = np.random.default_rng(53)
    for _ in range(300):
        n = int(rng.integers(100, 20_000))
        k_c, k_t = rng.binomial(n, 0.2), rng.binomial(n, rng.uniform(0.19, 0.23))
        r = stats.sequential_ttest(stats.MeanStats(n, k_c, k_c), stats.MeanStats(n, k_t, k_t))
        assert (r.p_value < 0.05) == (not r.ci_low <= 0 <= r.ci_high)


def test_boundary_is_tightest_near_tuning_n() -> None:
    def width(tuning_n: int, n: int) -> float:
        c, t = stats.MeanStats(n, 0.1 * n, 0.1 * n), stats.MeanStats(n, 0.11 * n, 0.11 * n)
        r = stats.sequential_ttest(c, t, relative=False, tuning_n=tuning_n)
        return (r.ci_high - r.ci_low) / r.se

    assert width(20_000, 10_000) < width(2_000, 10_000)
    assert width(2_000, 1_000) < width(20_000, 1_000)


def test_one_sided_uses_only_evidence_in_its_direction() -> None:
    greater = stats.sequential_ttest(CONTROL, TREATMENT, relative=False, alternative="greater")
    less = stats.sequential_ttest(CONTROL, TREATMENT, relative=False, alternative="less")
    two = stats.sequential_ttest(CONTROL, TREATMENT, relative=False)
    assert less.p_value == 1.0 and greater.p_value == pytest.approx(two.p_value)
    assert math.isinf(greater.ci_high) and greater.ci_low == pytest.approx(two.ci_low)


def test_works_on_ratio_and_cuped_stats_and_degenerate_input() -> None:
    ratio = stats.RatioStats.from_values([1.0, 2.0, 0.0, 3.0], [2.0, 2.0, 1.0, 3.0])
    assert stats.sequential_ttest(ratio, ratio).method == "mixture_sequential_ratio"
    cuped = stats.CupedStats.from_values([1.0, 2.0, 0.0, 3.0], [1.0, 2.5, 0.5, 2.0])
    assert stats.sequential_ttest(cuped, cuped).method == "mixture_sequential_cuped"
    r = stats.sequential_ttest(stats.MeanStats(0, 0, 0), TREATMENT)
    assert r.status == "insufficient_data" and math.isnan(r.p_value) and "No conclusion" in r.summary()
