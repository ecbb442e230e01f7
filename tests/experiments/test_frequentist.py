"""Welch t-test: published example, agreement with scipy/statsmodels, simulations, degenerate input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats import proportion as smprop

from assay.errors import InvalidInputError
from assay.experiments import stats

CONTROL = stats.MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
TREATMENT = stats.MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)


def from_moments(mean: float, sd: float, n: int) -> stats.MeanStats:
    return stats.MeanStats(n, n * mean, (n - 1) * sd * sd + n * mean * mean)


def test_documented_example_is_reproduced() -> None:
    r = stats.ttest(CONTROL, TREATMENT, relative=False)
    assert r.status == "ok" and r.warnings == ()
    assert r.estimate == pytest.approx(0.29, abs=1e-12)
    assert r.ci_low == pytest.approx(0.0454, abs=5e-5)
    assert r.ci_high == pytest.approx(0.5346, abs=5e-5)
    assert r.p_value == pytest.approx(0.0202, abs=5e-5)
    assert r.se == pytest.approx(math.sqrt(15.21 / 3407 + 38.44 / 3461))
    assert r.significant
    assert r.summary().startswith("Treatment is +0.29 vs control (95% CI +0.0454 to +0.535, p = 0.020")


def test_relative_uses_delta_method() -> None:
    r = stats.ttest(CONTROL, TREATMENT, relative=True)
    mc, mt = CONTROL.mean, TREATMENT.mean
    vc, vt = CONTROL.variance / CONTROL.n, TREATMENT.variance / TREATMENT.n
    assert r.estimate == pytest.approx(mt / mc - 1)
    assert r.se == pytest.approx(math.sqrt(vt / mc**2 + mt**2 * vc / mc**4))
    assert r.summary().startswith("Treatment is +70.7% vs control (95% CI")


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_matches_scipy_welch_on_random_inputs(alternative: str) -> None:
    rng = np.random.default_rng(10)
    for _ in range(200):
        n_c, n_t = rng.integers(2, 5000, 2)
        m_c, m_t = rng.normal(0, 10, 2)
        s_c, s_t = rng.uniform(0.1, 20, 2)
        c, t = from_moments(m_c, s_c, int(n_c)), from_moments(m_t, s_t, int(n_t))
        ours = stats.ttest(c, t, relative=False, alternative=alternative)
        ref = sps.ttest_ind_from_stats(t.mean, t.sd, t.n, c.mean, c.sd, c.n, equal_var=False, alternative=alternative)
        assert ours.estimate / ours.se == pytest.approx(ref.statistic, rel=1e-9)
        assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-300)


def test_confidence_interval_matches_scipy_on_raw_data() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        c_raw, t_raw = rng.lognormal(0, 1, rng.integers(5, 300)), rng.lognormal(0.1, 1.2, rng.integers(5, 300))
        ours = stats.ttest(stats.MeanStats.from_values(c_raw), stats.MeanStats.from_values(t_raw), relative=False)
        ci = sps.ttest_ind(t_raw, c_raw, equal_var=False).confidence_interval(0.9)
        ours90 = stats.ttest(
            stats.MeanStats.from_values(c_raw), stats.MeanStats.from_values(t_raw), relative=False, alpha=0.1
        )
        assert (ours90.ci_low, ours90.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-8)
        assert ours.ci_high - ours.ci_low > ours90.ci_high - ours90.ci_low


def test_proportions_agree_with_statsmodels_z_tests() -> None:
    """Welch on 0/1 data is the unpooled z-test with n − 1 variances; statsmodels' Wald uses n."""
    rng = np.random.default_rng(12)
    for _ in range(200):
        n_c, n_t = (int(v) for v in rng.integers(1000, 50_000, 2))
        p_c = rng.uniform(0.02, 0.5)
        x_c, x_t = int(rng.binomial(n_c, p_c)), int(rng.binomial(n_t, p_c * rng.uniform(0.95, 1.05)))
        ours = stats.ttest(stats.MeanStats(n_c, x_c, x_c), stats.MeanStats(n_t, x_t, x_t), relative=False)
        p1, p2 = x_t / n_t, x_c / n_c
        assert ours.se**2 == pytest.approx(p1 * (1 - p1) / (n_t - 1) + p2 * (1 - p2) / (n_c - 1), rel=1e-9)
        wald = smprop.test_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
        assert ours.estimate / ours.se == pytest.approx(wald.statistic, rel=1e-3)
        assert ours.p_value == pytest.approx(wald.pvalue, rel=5e-3, abs=1e-4)


def test_balanced_proportions_agree_with_statsmodels_pooled_ztest() -> None:
    """With equal arms the pooled and unpooled variances differ only by (p₁ − p₂)²/2, a negligible amount."""
    rng = np.random.default_rng(13)
    for _ in range(200):
        n = int(rng.integers(1000, 50_000))
        p_c = rng.uniform(0.02, 0.5)
        x_c, x_t = int(rng.binomial(n, p_c)), int(rng.binomial(n, p_c * rng.uniform(0.95, 1.05)))
        ours = stats.ttest(stats.MeanStats(n, x_c, x_c), stats.MeanStats(n, x_t, x_t), relative=False)
        z_pooled, p_pooled = smprop.proportions_ztest([x_t, x_c], [n, n])
        assert ours.estimate / ours.se == pytest.approx(z_pooled, rel=5e-3)
        assert ours.p_value == pytest.approx(p_pooled, rel=1e-2, abs=1e-4)


def _bernoulli_stats(counts: np.ndarray, n: int) -> list[stats.MeanStats]:
    return [stats.MeanStats(n, int(k), int(k)) for k in counts]


def test_aa_false_positive_rate_is_alpha() -> None:
    """2,000 A/A tests at alpha 5%: conversions (Bernoulli) and skewed revenue (lognormal)."""
    rng = np.random.default_rng(20)
    n = 1000
    counts = rng.binomial(n, 0.1, size=(2000, 2))
    rejected = [
        stats.ttest(c, t, relative=True).p_value < 0.05
        for c, t in zip(_bernoulli_stats(counts[:, 0], n), _bernoulli_stats(counts[:, 1], n), strict=True)
    ]
    assert 0.035 <= np.mean(rejected) <= 0.065
    values = rng.lognormal(0, 1, size=(2000, 2, 500))
    sums, squares = values.sum(axis=2), (values**2).sum(axis=2)
    rejected = [
        stats.ttest(stats.MeanStats(500, s[0], q[0]), stats.MeanStats(500, s[1], q[1]), relative=False).p_value < 0.05
        for s, q in zip(sums, squares, strict=True)
    ]
    assert 0.035 <= np.mean(rejected) <= 0.065


def test_intervals_cover_true_lift() -> None:
    """95% intervals cover the true lift in 93.5–96.5% of 2,000 simulated A/B tests."""
    rng = np.random.default_rng(21)
    # relative lift of a normal metric: sums and sums of squares drawn exactly (x̄ ~ N, (n−1)s² ~ σ²χ²)
    n, mu_c, mu_t, sigma = 400, 10.0, 10.8, 4.0
    true_lift = mu_t / mu_c - 1
    covered = []
    for _ in range(2000):
        arms = []
        for mu in (mu_c, mu_t):
            mean = rng.normal(mu, sigma / math.sqrt(n))
            arms.append(from_moments(mean, sigma * math.sqrt(rng.chisquare(n - 1) / (n - 1)), n))
        r = stats.ttest(arms[0], arms[1], relative=True)
        covered.append(r.ci_low <= true_lift <= r.ci_high)
    assert 0.935 <= np.mean(covered) <= 0.965
    # absolute lift of a conversion rate
    counts = np.column_stack([rng.binomial(3000, 0.10, 2000), rng.binomial(3000, 0.12, 2000)])
    covered = []
    for k_c, k_t in counts:
        r = stats.ttest(stats.MeanStats(3000, k_c, k_c), stats.MeanStats(3000, k_t, k_t), relative=False)
        covered.append(r.ci_low <= 0.02 <= r.ci_high)
    assert 0.935 <= np.mean(covered) <= 0.965


@pytest.mark.parametrize(
    ("control", "treatment", "relative", "status", "fragment"),
    [
        (stats.MeanStats(0, 0, 0), TREATMENT, True, "insufficient_data", "control arm has no units"),
        (CONTROL, stats.MeanStats(1, 2.0, 4.0), False, "insufficient_data", "treatment arm has 1 unit"),
        (stats.MeanStats(10, 0, 0), TREATMENT, True, "undefined_relative", "control mean is 0"),
        (stats.MeanStats(10, 10, 10), stats.MeanStats(10, 10, 10), False, "zero_variance", "zero variance"),
        (stats.MeanStats(10, 10, 10), stats.MeanStats(12, 24, 48), True, "zero_variance", "zero variance"),
    ],
)
def test_degenerate_input_gives_status_and_warning(
    control: stats.MeanStats, treatment: stats.MeanStats, relative: bool, status: str, fragment: str
) -> None:
    r = stats.ttest(control, treatment, relative=relative)
    assert r.status == status
    assert any(fragment in w for w in r.warnings)
    assert math.isnan(r.p_value) and math.isnan(r.ci_low) and not r.significant
    assert "No conclusion" in r.summary()
    json.dumps(r.to_dict(), allow_nan=False)


def test_point_estimate_kept_when_only_variance_is_missing() -> None:
    assert stats.ttest(stats.MeanStats(1, 2.0, 4.0), stats.MeanStats(1, 3.0, 9.0), relative=False).estimate == 1.0
    zero = stats.ttest(stats.MeanStats(5, 5, 5), stats.MeanStats(5, 10, 20), relative=True)
    assert zero.estimate == pytest.approx(1.0) and zero.se == 0.0


def test_one_zero_variance_arm_is_fine() -> None:
    r = stats.ttest(stats.MeanStats(50, 50, 50), from_moments(1.2, 0.5, 60), relative=False)
    ref = sps.ttest_ind_from_stats(1.2, 0.5, 60, 1.0, 0.0, 50, equal_var=False)
    assert r.status == "ok" and r.p_value == pytest.approx(ref.pvalue)


def test_negative_control_mean_warns() -> None:
    r = stats.ttest(from_moments(-2.0, 1.0, 100), from_moments(-1.0, 1.0, 100), relative=True)
    assert r.status == "ok" and any("negative" in w for w in r.warnings)


def test_one_sided_intervals_are_half_open() -> None:
    greater = stats.ttest(CONTROL, TREATMENT, relative=False, alternative="greater")
    less = stats.ttest(CONTROL, TREATMENT, relative=False, alternative="less")
    assert math.isinf(greater.ci_high) and math.isinf(less.ci_low)
    assert greater.p_value == pytest.approx(0.0202 / 2, abs=5e-5)
    assert greater.p_value + less.p_value == pytest.approx(1.0)
    assert greater.to_dict()["ci_high"] is None
    assert "95% lower bound" in greater.summary()


def test_bad_parameters_raise_house_message() -> None:
    with pytest.raises(InvalidInputError) as info:
        stats.ttest(CONTROL, TREATMENT, alpha=1.5)
    assert str(info.value) == "The 'alpha' parameter of ttest must be in (0, 1). Got 1.5."
    with pytest.raises(InvalidInputError, match="'alternative' parameter of ttest must be one of"):
        stats.ttest(CONTROL, TREATMENT, alternative="bigger")
    with pytest.raises(InvalidInputError, match="'relative' parameter of ttest must be True or False"):
        stats.ttest(CONTROL, TREATMENT, relative="yes")  # type: ignore[arg-type]
    ratio = stats.RatioStats(2, 1.0, 1.0, 2.0, 2.0, 1.0)
    with pytest.raises(InvalidInputError, match="use ratio_ttest or cuped_ttest"):
        stats.ttest(ratio, ratio)  # type: ignore[arg-type]
