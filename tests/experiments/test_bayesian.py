"""Bayesian readout: conjugate normal posterior, chance to win and expected loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from assay.errors import InvalidInputError
from assay.experiments import stats

CONTROL = stats.MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
TREATMENT = stats.MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)


@pytest.mark.parametrize("relative", [False, True])
def test_flat_prior_posterior_is_the_likelihood(relative: bool) -> None:
    freq = stats.ttest(CONTROL, TREATMENT, relative=relative)
    r = stats.bayesian(CONTROL, TREATMENT, relative=relative)
    assert r.estimate == pytest.approx(freq.estimate) and r.sd == pytest.approx(freq.se)
    assert r.chance_to_win == pytest.approx(sps.norm.cdf(freq.estimate / freq.se))
    assert (r.ci_low, r.ci_high) == pytest.approx(
        (freq.estimate - 1.959964 * freq.se, freq.estimate + 1.959964 * freq.se), rel=1e-6
    )


def test_normal_prior_is_conjugate_update() -> None:
    prior = stats.NormalPrior(mean=0.0, sd=0.1)
    freq = stats.ttest(CONTROL, TREATMENT, relative=True)
    r = stats.bayesian(CONTROL, TREATMENT, relative=True, prior=prior)
    precision = 1 / freq.se**2 + 1 / 0.1**2
    assert r.sd == pytest.approx(math.sqrt(1 / precision))
    assert r.estimate == pytest.approx(freq.estimate / freq.se**2 / precision)
    assert 0 < r.estimate < freq.estimate  # shrunk towards the prior mean
    assert r.method == "gaussian_normal_prior_mean"
    assert r.to_dict()["prior"] == {"mean": 0.0, "sd": 0.1}


def test_risks_match_numerical_integration() -> None:
    rng = np.random.default_rng(60)
    for _ in range(20):
        n = int(rng.integers(200, 5000))
        c = stats.MeanStats(n, *_sums(rng, n, 1.0))
        t = stats.MeanStats(n, *_sums(rng, n, 1.0 + rng.normal(0, 0.05)))
        r = stats.bayesian(c, t, relative=True)
        post = sps.norm(r.estimate, r.sd)
        lo, hi = r.estimate - 12 * r.sd, r.estimate + 12 * r.sd
        loss_ship = integrate.quad(lambda d, p=post: max(-d, 0.0) * p.pdf(d), lo, hi, points=[0.0])[0]
        loss_keep = integrate.quad(lambda d, p=post: max(d, 0.0) * p.pdf(d), lo, hi, points=[0.0])[0]
        assert r.risk_treatment == pytest.approx(loss_ship, rel=1e-6, abs=1e-12)
        assert r.risk_control == pytest.approx(loss_keep, rel=1e-6, abs=1e-12)
        assert r.risk == r.risk_treatment
        assert r.risk_control - r.risk_treatment == pytest.approx(r.estimate)


def _sums(rng: np.random.Generator, n: int, mean: float) -> tuple[float, float]:
    x = rng.normal(mean, 1.0, n)
    return float(x.sum()), float(x @ x)


def test_summary_and_degenerate_input() -> None:
    text = stats.bayesian(CONTROL, TREATMENT).summary()
    assert "chance to beat control" in text and "credible interval" in text
    r = stats.bayesian(stats.MeanStats(10, 0, 0), TREATMENT, relative=True)
    assert r.status == "undefined_relative" and math.isnan(r.chance_to_win)
    r = stats.bayesian(stats.MeanStats(4, 4, 4), stats.MeanStats(4, 4, 4), prior=stats.NormalPrior())
    assert r.status == "zero_variance" and math.isnan(r.risk_control)


def test_invalid_prior() -> None:
    with pytest.raises(InvalidInputError, match="'sd' parameter of NormalPrior must be a positive number"):
        stats.NormalPrior(0.0, 0.0)
    with pytest.raises(InvalidInputError, match="'prior' parameter of bayesian must be a NormalPrior or None"):
        stats.bayesian(CONTROL, TREATMENT, prior=(0, 1))  # type: ignore[arg-type]
