"""Sufficient-statistic dataclasses: construction, validation, derived moments and pooling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.experiments import stats


def test_mean_stats_from_values_matches_numpy() -> None:
    x = np.random.default_rng(1).normal(3, 2, 500)
    s = stats.MeanStats.from_values(x)
    assert s.n == 500
    assert s.mean == pytest.approx(x.mean(), rel=1e-12)
    assert s.variance == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert s.sd == pytest.approx(x.std(ddof=1), rel=1e-9)


def test_proportion_is_mean_of_zero_one() -> None:
    s = stats.MeanStats.from_values([1, 0, 0, 1, 1])
    assert (s.sum, s.sum_squares, s.mean) == (3.0, 3.0, 0.6)
    assert s.variance == pytest.approx(0.6 * 0.4 * 5 / 4)


def test_adding_pools_groups_and_sum_works() -> None:
    rng = np.random.default_rng(2)
    parts = [rng.exponential(2.0, n) for n in (10, 50, 7)]
    pooled = stats.MeanStats.from_values(np.concatenate(parts))
    groups = [stats.MeanStats.from_values(p) for p in parts]
    added = groups[0] + groups[1] + groups[2]
    assert sum(groups) == added
    assert added.n == pooled.n
    assert added.mean == pytest.approx(pooled.mean)
    assert added.variance == pytest.approx(pooled.variance)


def test_adding_different_kinds_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        stats.MeanStats(2, 1.0, 1.0) + stats.RatioStats(2, 1.0, 1.0, 2.0, 2.0, 1.0)  # type: ignore[operator]


def test_degenerate_moments_are_nan_not_zero() -> None:
    empty = stats.MeanStats(0, 0, 0)
    one = stats.MeanStats(1, 5.0, 25.0)
    assert np.isnan(empty.mean) and np.isnan(empty.variance)
    assert one.mean == 5.0 and np.isnan(one.variance)
    assert np.isnan(stats.RatioStats(3, 1.0, 1.0, 0.0, 0.0, 0.0).ratio)


def test_integral_floats_from_sql_are_accepted_and_coerced() -> None:
    s = stats.MeanStats(np.int64(10), np.float32(4.0), 4)
    assert type(s.n) is int and type(s.sum) is float and type(s.sum_squares) is float
    assert stats.MeanStats(10.0, 4.0, 4.0).n == 10


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((-1, 0.0, 0.0), "'n' parameter of MeanStats must be an integer >= 0. Got -1."),
        ((2.5, 1.0, 1.0), "'n' parameter of MeanStats must be an integer >= 0. Got 2.5."),
        ((True, 1.0, 1.0), "'n' parameter"),
        ((3, float("nan"), 1.0), "'sum' parameter of MeanStats must be a finite number"),
        ((3, "1", 1.0), "'sum' parameter"),
        ((3, 30.0, 3.0), "below sum²/n"),
        ((0, 1.0, 1.0), "n=0"),
    ],
)
def test_invalid_mean_stats_raise(args: tuple, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=None) as info:
        stats.MeanStats(*args)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_values_rejects_nan_and_2d() -> None:
    with pytest.raises(InvalidInputError, match="nan"):
        stats.MeanStats.from_values([1.0, np.nan])
    with pytest.raises(InvalidInputError, match="1-D"):
        stats.MeanStats.from_values(np.ones((2, 2)))
    with pytest.raises(InvalidInputError, match="equal length"):
        stats.RatioStats.from_values([1.0, 2.0], [1.0])


def test_stats_are_frozen() -> None:
    s = stats.MeanStats(2, 1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n = 3  # type: ignore[misc]


def test_ratio_stats_moments_match_direct_computation() -> None:
    rng = np.random.default_rng(3)
    d = rng.poisson(3, 400) + 1.0
    y = rng.binomial(d.astype(int), 0.3).astype(float)
    s = stats.RatioStats.from_values(y, d)
    assert s.ratio == pytest.approx(y.sum() / d.sum())
    assert s.covariance == pytest.approx(np.cov(y, d)[0, 1])
    lin = (y - s.ratio * d) / d.mean()  # Deng et al. 2018 linearisation
    assert s.ratio_variance == pytest.approx(lin.var(ddof=1), rel=1e-9)
    assert s.numerator.mean == pytest.approx(y.mean()) and s.denominator.mean == pytest.approx(d.mean())
    parts = stats.RatioStats.from_values(y[:100], d[:100]) + stats.RatioStats.from_values(y[100:], d[100:])
    assert parts.ratio_variance == pytest.approx(s.ratio_variance)


def test_cuped_stats_moments_match_numpy() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(5, 1, 300)
    y = 0.8 * x + rng.normal(0, 1, 300)
    s = stats.CupedStats.from_values(y, x)
    assert s.metric == stats.MeanStats.from_values(y)
    assert s.covariate == stats.MeanStats.from_values(x)
    assert s.covariance == pytest.approx(np.cov(y, x)[0, 1])
    assert s.correlation == pytest.approx(np.corrcoef(y, x)[0, 1])
    assert (s + s).n == 600


def test_cuped_ratio_stats_moments_match_numpy() -> None:
    rng = np.random.default_rng(5)
    d = rng.poisson(4, 300) + 1.0
    x = d * rng.uniform(0.5, 1.5, 300)
    y = rng.binomial(d.astype(int), 0.4) + 0.1 * x
    s = stats.CupedRatioStats.from_values(y, d, x)
    assert s.ratio_stats == stats.RatioStats.from_values(y, d)
    lin = (y - s.ratio * d) / d.mean()
    assert s.covariance == pytest.approx(np.cov(lin, x)[0, 1], rel=1e-9)
    assert s.correlation == pytest.approx(np.corrcoef(lin, x)[0, 1], rel=1e-9)
