"""Sample size, MDE and duration: agreement with statsmodels' power functions and a simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power

from assay.errors import InvalidInputError
from assay.experiments import stats

SIDES = {"two-sided": "two-sided", "greater": "larger"}


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_mean_sample_size_matches_statsmodels(alternative: str) -> None:
    rng = np.random.default_rng(100)
    for _ in range(40):
        mean = rng.uniform(1, 100)
        sd = mean * rng.uniform(0.3, 3)
        mde, alpha, power = rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.2), rng.uniform(0.5, 0.95)
        r = stats.sample_size(
            mean, sd, mde=mde * mean, relative=False, alpha=alpha, power=power, alternative=alternative
        )
        effect = mde * mean / sd
        ref = NormalIndPower().solve_power(effect, alpha=alpha, power=power, ratio=1.0, alternative=SIDES[alternative])
        assert r.n_unrounded == pytest.approx(ref, rel=1e-6)
        assert r.n_per_variant == math.ceil(r.n_unrounded) and r.total == 2 * r.n_per_variant
        assert r.absolute_mde == pytest.approx(mde * mean)
        # relative=True sizes the delta-method test: variance σ² + (1 + mde)²·σ² instead of 2σ²
        rel = stats.sample_size(mean, sd, mde=mde, alpha=alpha, power=power, alternative=alternative)
        effect = mde * mean / (sd * math.sqrt((1 + (1 + mde) ** 2) / 2))
        ref = NormalIndPower().solve_power(effect, alpha=alpha, power=power, ratio=1.0, alternative=SIDES[alternative])
        assert rel.n_unrounded == pytest.approx(ref, rel=1e-6) and rel.n_unrounded > r.n_unrounded


def test_proportion_sample_size_uses_unpooled_bernoulli_variance() -> None:
    rng = np.random.default_rng(101)
    for _ in range(40):
        p1, rel = rng.uniform(0.01, 0.6), rng.uniform(0.02, 0.5)
        p2 = p1 * (1 + rel)
        r = stats.sample_size(mean=p1, sd=None, mde=p2 - p1, relative=False)
        effect = (p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
        ref = zt_ind_solve_power(effect_size=effect, alpha=0.05, power=0.8, ratio=1.0)
        assert r.kind == "proportion" and r.n_unrounded == pytest.approx(ref, rel=1e-6)
        # the relative (delta-method) test weighs the control variance by (p₂/p₁)²
        r = stats.sample_size(mean=p1, sd=None, mde=rel, relative=True)
        effect = (p2 - p1) / math.sqrt((p1 * (1 - p1) * (1 + rel) ** 2 + p2 * (1 - p2)) / 2)
        assert r.n_unrounded == pytest.approx(zt_ind_solve_power(effect_size=effect, alpha=0.05, power=0.8), rel=1e-6)
    doc = stats.sample_size(mean=0.10, sd=None, mde=0.02, relative=True, alpha=0.05, power=0.8, variants=2)
    assert doc.n_per_variant == 363_466 and doc.total == 726_932
    assert doc.summary().startswith("Needs 363,466 units per variant (726,932 in total)")


@pytest.mark.parametrize("relative", [True, False])
def test_simulated_power_matches_design(relative: bool) -> None:
    """2,000 simulated tests at the designed sample size reject in about 80% of cases."""
    design = stats.sample_size(mean=0.10, mde=0.05 if relative else 0.005, relative=relative, power=0.8)
    n = design.n_per_variant
    counts = np.random.default_rng(102).binomial(n, [0.10, 0.105], size=(2000, 2))
    hits = [
        stats.ttest(stats.MeanStats(n, a, a), stats.MeanStats(n, b, b), relative=relative).p_value < 0.05
        for a, b in counts
    ]
    assert 0.77 <= np.mean(hits) <= 0.83


def test_relative_design_is_conservative_for_large_lifts() -> None:
    """Sizing the delta-method test with the alternative's variance over-delivers power a little at +20%."""
    n = stats.sample_size(mean=0.10, mde=0.2).n_per_variant
    counts = np.random.default_rng(103).binomial(n, [0.10, 0.12], size=(2000, 2))
    hits = [stats.ttest(stats.MeanStats(n, a, a), stats.MeanStats(n, b, b)).p_value < 0.05 for a, b in counts]
    assert 0.8 <= np.mean(hits) <= 0.87


def test_multi_variant_bonferroni_and_cuped() -> None:
    two = stats.sample_size(mean=10.0, sd=4.0, mde=0.2, relative=False)
    three = stats.sample_size(mean=10.0, sd=4.0, mde=0.2, relative=False, variants=3)
    ref = zt_ind_solve_power(effect_size=0.2 / 4.0, alpha=0.025, power=0.8)
    assert three.alpha_per_comparison == 0.025 and three.n_unrounded == pytest.approx(ref, rel=1e-6)
    assert three.total == 3 * three.n_per_variant
    uncorrected = stats.sample_size(mean=10.0, sd=4.0, mde=0.2, relative=False, variants=3, correction="none")
    assert uncorrected.n_per_variant == two.n_per_variant
    cuped = stats.sample_size(mean=10.0, sd=4.0, mde=0.2, relative=False, cuped_correlation=0.6)
    assert cuped.n_unrounded == pytest.approx(two.n_unrounded * (1 - 0.36), rel=1e-9)
    assert "Bonferroni" in three.summary() and "CUPED with correlation 0.60" in cuped.summary()


def test_baselines_for_ratio_and_cuped_metrics() -> None:
    rng = np.random.default_rng(103)
    d = rng.poisson(3, 5000) + 1.0
    y = rng.binomial(d.astype(int), 0.3).astype(float)
    ratio = stats.RatioStats.from_values(y, d)
    r = stats.sample_size(mde=0.05, baseline=ratio)
    same = stats.sample_size(ratio.ratio, math.sqrt(ratio.ratio_variance), mde=0.05)
    assert r.kind == "ratio" and r.n_unrounded == pytest.approx(same.n_unrounded)
    x = rng.normal(10, 2, 5000)
    cuped = stats.CupedStats.from_values(x + rng.normal(0, 2, 5000), x)
    c = stats.sample_size(mde=0.02, baseline=cuped)
    assert c.cuped_correlation == pytest.approx(cuped.correlation)
    plain = stats.sample_size(mde=0.02, baseline=cuped.metric)
    assert c.n_unrounded == pytest.approx(plain.n_unrounded * (1 - cuped.correlation**2))


def test_mde_inverts_sample_size() -> None:
    for kwargs in ({"mean": 0.05}, {"mean": 0.4}, {"mean": 12.0, "sd": 3.0}):
        for alternative in ("two-sided", "greater", "less"):
            m = stats.mde(20_000, **kwargs, alternative=alternative)
            back = stats.sample_size(**kwargs, mde=m.mde, alternative=alternative)
            assert back.n_unrounded == pytest.approx(20_000, rel=1e-6)
    m = stats.mde(5000, 12.0, 3.0, relative=False)
    ref = NormalIndPower().solve_power(nobs1=5000, alpha=0.05, power=0.8, ratio=1.0)
    assert m.absolute_mde == pytest.approx(ref * 3.0, rel=1e-4) and m.mde == m.absolute_mde
    assert NormalIndPower().power(m.absolute_mde / 3.0, nobs1=5000, alpha=0.05) == pytest.approx(0.8, rel=1e-9)
    assert "smallest detectable change" in m.summary()


def test_mde_unreachable_gives_status() -> None:
    assert stats.mde(10, mean=1.0, sd=10.0).status == "insufficient_data"  # relative lift saturates
    m = stats.mde(2, mean=0.5)
    assert m.status == "insufficient_data" and math.isnan(m.mde)
    assert m.summary().startswith("No detectable effect")


def test_duration() -> None:
    design = stats.sample_size(mean=0.10, mde=0.05)
    d = stats.duration(design, daily_traffic=20_000)
    assert d.total == design.total and d.days == math.ceil(design.total / 20_000)
    half = stats.duration(design.total, daily_traffic=20_000, traffic_fraction=0.5)
    assert half.exact_days == pytest.approx(2 * d.exact_days)
    assert (
        stats.duration(14_000, 1000).summary()
        == "About 14 days (2.0 weeks) to reach 14,000 units at 1,000 units a day."
    )
    assert stats.duration(1, 1000).days == 1


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: stats.sample_size(mean=2.0, mde=0.1), "'mean' parameter of sample_size must be in (0, 1) when sd"),
        (lambda: stats.sample_size(mean=0.0, sd=1.0, mde=0.1), "baseline mean of 0; use relative=False"),
        (lambda: stats.sample_size(mean=0.9, mde=0.2), "outside (0, 1)"),
        (lambda: stats.sample_size(mean=0.1, mde=-0.1), "'mde' parameter of sample_size must be a positive number"),
        (lambda: stats.sample_size(mean=0.1, mde=0.1, power=1.0), "'power' parameter of sample_size must be in (0, 1)"),
        (lambda: stats.sample_size(mean=0.1, mde=0.1, variants=1), "'variants' parameter of sample_size must be an"),
        (lambda: stats.sample_size(mean=0.1, mde=0.1, cuped_correlation=1.0), "'cuped_correlation' parameter"),
        (lambda: stats.sample_size(mean=0.1, mde=0.1, baseline=stats.MeanStats(5, 1, 1)), "not both"),
        (lambda: stats.sample_size(mde=0.1, baseline=stats.MeanStats(1, 1, 1)), "no usable mean and sd"),
        (lambda: stats.duration(100, 0), "'daily_traffic' parameter of duration must be a positive number"),
        (lambda: stats.duration(100, 10, traffic_fraction=1.5), "'traffic_fraction' parameter of duration"),
    ],
)
def test_invalid_design_parameters(call, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert fragment in str(info.value)
