"""CUPED (Deng et al. 2013): agreement with OLS, variance reduction ≈ ρ², coverage, degenerate covariates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from assay.experiments import stats


def _experiment(rng: np.random.Generator, n: int, rho: float, lift: float = 0.0) -> tuple[np.ndarray, ...]:
    """Metric y correlated ρ with pre-period x (both unit variance); treatment adds ``lift`` to y."""
    x = rng.normal(size=(2, n))
    y = 10 + rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(2, n))
    y[1] += lift
    return x, y


def test_adjusted_lift_equals_ols_treatment_coefficient() -> None:
    rng = np.random.default_rng(40)
    x = rng.normal(5, 2, (2, 300))
    y = 1.5 * x + rng.normal(0, 2, (2, 300))
    y[1] += 0.4
    r = stats.cuped_ttest(
        stats.CupedStats.from_values(y[0], x[0]), stats.CupedStats.from_values(y[1], x[1]), relative=False
    )
    design = sm.add_constant(np.column_stack([np.repeat([0.0, 1.0], 300), x.ravel()]))
    ols = sm.OLS(y.ravel(), design).fit(cov_type="HC2")
    assert r.estimate == pytest.approx(ols.params[1], rel=1e-9)
    assert r.theta == pytest.approx(ols.params[2], rel=1e-9)
    assert r.se == pytest.approx(ols.bse[1], rel=0.02)  # separate per-arm variances vs HC2: same to ~1%
    assert r.unadjusted == stats.ttest(
        stats.MeanStats.from_values(y[0]), stats.MeanStats.from_values(y[1]), relative=False
    )
    assert r.adjusted.method == "cuped_welch_t" and r.status == "ok"
    assert "With CUPED" in r.summary() and "CUPED cut the variance by" in r.summary()


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_variance_reduction_is_about_rho_squared(rho: float) -> None:
    x, y = _experiment(np.random.default_rng(41), 20_000, rho)
    r = stats.cuped_ttest(stats.CupedStats.from_values(y[0], x[0]), stats.CupedStats.from_values(y[1], x[1]))
    assert r.variance_reduction == pytest.approx(rho * rho, abs=0.02)


def test_simulated_cuped_estimates_have_variance_times_one_minus_rho_squared_and_cover() -> None:
    rng = np.random.default_rng(42)
    rho, n, sims, lift = 0.7, 200, 2000, 0.3
    x = rng.normal(size=(sims, 2, n))
    y = 10 + rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(sims, 2, n))
    y[:, 1] += lift
    sums = {
        "sum": y.sum(2), "sum_squares": (y * y).sum(2), "cov_sum": x.sum(2),
        "cov_sum_squares": (x * x).sum(2), "cross_sum": (x * y).sum(2),
    }  # fmt: skip
    adjusted, plain, covered = [], [], []
    for i in range(sims):
        arms = [stats.CupedStats(n, **{k: v[i, a] for k, v in sums.items()}) for a in (0, 1)]
        r = stats.cuped_ttest(arms[0], arms[1], relative=True)
        adjusted.append(r.estimate)
        plain.append(r.unadjusted.estimate)
        covered.append(r.ci_low <= lift / 10 <= r.ci_high)
    assert np.var(adjusted) / np.var(plain) == pytest.approx(1 - rho * rho, abs=0.05)
    assert np.mean(adjusted) == pytest.approx(lift / 10, abs=0.002)
    assert 0.935 <= np.mean(covered) <= 0.965


def test_cuped_ratio_matches_linearised_ols() -> None:
    rng = np.random.default_rng(43)
    n = 400
    d = rng.poisson(3, (2, n)) + 1.0
    x = d * rng.gamma(2, 0.5, (2, n))  # pre-period clicks
    y = rng.poisson(0.3 * x + 0.1 * d).astype(float)
    arms = [stats.CupedRatioStats.from_values(y[a], d[a], x[a]) for a in (0, 1)]
    r = stats.cuped_ttest(arms[0], arms[1], relative=False)
    ratio = y.sum(1) / d.sum(1)
    lin = (y - ratio[:, None] * d) / d.mean(1)[:, None]  # Deng et al. 2018 linearisation, mean 0 per arm
    design = sm.add_constant(np.column_stack([np.repeat([0.0, 1.0], n), x.ravel()]))
    ols = sm.OLS(lin.ravel(), design).fit()
    assert r.theta == pytest.approx(ols.params[2], rel=1e-9)
    assert r.estimate == pytest.approx(ratio[1] - ratio[0] + ols.params[1], rel=1e-9)
    resid = lin - r.theta * x
    se = math.sqrt(resid[0].var(ddof=1) / n + resid[1].var(ddof=1) / n)
    assert r.se == pytest.approx(se, rel=1e-9)
    assert r.unadjusted == stats.ratio_ttest(arms[0].ratio_stats, arms[1].ratio_stats, relative=False)
    assert r.variance_reduction > 0.2
    assert r.adjusted.method == "cuped_ratio_delta_welch_t"


def test_constant_covariate_means_no_adjustment_with_warning() -> None:
    rng = np.random.default_rng(44)
    y = rng.normal(size=(2, 50))
    arms = [stats.CupedStats.from_values(y[a], np.ones(50)) for a in (0, 1)]
    r = stats.cuped_ttest(arms[0], arms[1], relative=False)
    assert r.theta == 0.0 and r.variance_reduction == pytest.approx(0.0, abs=1e-12)
    assert r.estimate == pytest.approx(r.unadjusted.estimate)
    assert any("zero variance" in w for w in r.warnings)


def test_degenerate_arm_gives_status() -> None:
    good = stats.CupedStats.from_values([1.0, 2.0, 3.0], [1.0, 2.5, 2.0])
    one = stats.CupedStats.from_values([1.0], [2.0])
    r = stats.cuped_ttest(one, good)
    assert r.status == "insufficient_data" and math.isnan(r.variance_reduction)
    assert "No conclusion" in r.summary()
    empty = stats.CupedStats(0, 0, 0, 0, 0, 0)
    assert stats.cuped_ttest(empty, empty).status == "insufficient_data"
