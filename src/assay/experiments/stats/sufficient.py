"""Sufficient statistics per arm: tiny frozen dataclasses of counts and sums that the engine computes in SQL.

Everything the tests in this package need is a function of these sums, so no per-unit data ever has to
reach Python. ``a + b`` pools two groups (slices, days, shards) of the same kind, and ``sum(groups)``
works too. A proportion is the mean of a 0/1 metric (then ``sum_squares == sum``).

Variances are sample variances (denominator ``n - 1``); with ``n < 2`` they are ``nan``, never 0.

Example::

    >>> c = MeanStats.from_values([1.0, 0.0, 1.0, 1.0])
    >>> c.mean, round(c.variance, 4)
    (0.75, 0.25)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from assay.errors import InvalidInputError
from assay.experiments.stats import _checks

__all__ = ["CupedRatioStats", "CupedStats", "MeanStats", "RatioStats"]

_NAN = math.nan


def _cov(n: int, sum_a: float, sum_b: float, sum_ab: float) -> float:
    """Sample covariance from sums: ``(Σab − Σa·Σb/n) / (n − 1)``; ``nan`` when ``n < 2``."""
    if n < 2:
        return _NAN
    return (sum_ab - sum_a * sum_b / n) / (n - 1)


def _var(n: int, sum_a: float, sum_aa: float) -> float:
    v = _cov(n, sum_a, sum_a, sum_aa)
    return max(v, 0.0) if v == v else v  # rounding can leave -1e-17 behind; nan stays nan


def _vector(values: ArrayLike, name: str, owner: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise _checks.fail(name, owner, "a 1-D array", f"an array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(
            f"The {name!r} parameter of {owner} contains nan or inf values; drop or impute them first."
        )
    return arr


class _Sums:
    """Shared validation and pooling for the sufficient-statistic dataclasses."""

    __slots__ = ()
    _squares: tuple[tuple[str, str], ...] = ()  # (sum field, sum-of-squares field) pairs to cross-check

    def _validate(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            coerced = _checks.count(value, f.name, owner) if f.name == "n" else _checks.real(value, f.name, owner)
            object.__setattr__(self, f.name, coerced)
        n = self.n  # type: ignore[attr-defined]
        for total, squares in self._squares:
            s, ss = getattr(self, total), getattr(self, squares)
            if n == 0:
                if s != 0 or ss != 0:
                    raise InvalidInputError(
                        f"{owner} has n=0 but {total}={s!r} and {squares}={ss!r}; an empty arm has all sums 0."
                    )
                continue
            floor = s * s / n
            if ss < floor - 1e-8 * max(abs(floor), abs(ss)) - 1e-12:
                raise InvalidInputError(
                    f"{owner} has {squares}={ss!r} below {total}²/n={floor!r}, which no real data can produce; "
                    f"check that the arguments are not swapped."
                )

    def __add__(self, other: Any) -> Self:
        if type(other) is not type(self):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        return type(self)(*(getattr(self, k) + getattr(other, k) for k in names))

    def __radd__(self, other: Any) -> Self:
        if isinstance(other, int) and other == 0:  # lets sum(groups) start from 0
            return self
        return NotImplemented


@dataclasses.dataclass(frozen=True, slots=True)
class MeanStats(_Sums):
    """One arm of a mean (or proportion) metric: unit count, sum and sum of squares of the per-unit values."""

    n: int
    sum: float
    sum_squares: float

    _squares = (("sum", "sum_squares"),)

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def from_values(cls, values: ArrayLike) -> MeanStats:
        """Sufficient statistics of a 1-D array of per-unit values (nan is rejected, not dropped)."""
        x = _vector(values, "values", "MeanStats.from_values")
        return cls(n=x.size, sum=float(x.sum()), sum_squares=float(x @ x))

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else _NAN

    @property
    def variance(self) -> float:
        """Sample variance of the per-unit values (``n − 1`` denominator)."""
        return _var(self.n, self.sum, self.sum_squares)

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)


@dataclasses.dataclass(frozen=True, slots=True)
class RatioStats(_Sums):
    """One arm of a ratio metric ``Σ numerator / Σ denominator`` (e.g. clicks per session) over ``n`` units.

    The unit of randomisation (user) differs from the unit of the denominator (session), so the
    variance comes from the delta method on the per-unit sums (Deng et al. 2018, "Applying the Delta
    Method in Metric Analytics", KDD), not from treating sessions as independent.
    """

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    num_den_sum: float

    _squares = (("num_sum", "num_sum_squares"), ("den_sum", "den_sum_squares"))

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def from_values(cls, numerator: ArrayLike, denominator: ArrayLike) -> RatioStats:
        """Sufficient statistics of per-unit numerator and denominator arrays of equal length."""
        y = _vector(numerator, "numerator", "RatioStats.from_values")
        d = _vector(denominator, "denominator", "RatioStats.from_values")
        if y.size != d.size:
            raise InvalidInputError(
                f"RatioStats.from_values needs numerator and denominator of equal length; got {y.size} and {d.size}."
            )
        return cls(y.size, float(y.sum()), float(y @ y), float(d.sum()), float(d @ d), float(y @ d))

    @property
    def ratio(self) -> float:
        """``Σ numerator / Σ denominator``; ``nan`` when the denominator sums to 0."""
        return self.num_sum / self.den_sum if self.den_sum else _NAN

    @property
    def numerator(self) -> MeanStats:
        return MeanStats(self.n, self.num_sum, self.num_sum_squares)

    @property
    def denominator(self) -> MeanStats:
        return MeanStats(self.n, self.den_sum, self.den_sum_squares)

    @property
    def covariance(self) -> float:
        """Sample covariance of per-unit numerator and denominator."""
        return _cov(self.n, self.num_sum, self.den_sum, self.num_den_sum)

    @property
    def ratio_variance(self) -> float:
        """Per-unit variance of the linearised ratio, so that ``Var(ratio) ≈ ratio_variance / n``.

        Delta method (Deng et al. 2018, eq. 3): with ``μ_y, μ_d`` the means and ``R = μ_y/μ_d``,
        ``σ²_lin = (σ²_y − 2R·σ_yd + R²·σ²_d) / μ_d²`` — the variance of ``(y − R·d)/μ_d``.
        """
        if not self.den_sum or self.n < 2:
            return _NAN
        r = self.ratio
        den_mean = self.den_sum / self.n
        lin = self.numerator.variance - 2 * r * self.covariance + r * r * self.denominator.variance
        return max(lin, 0.0) / (den_mean * den_mean)


@dataclasses.dataclass(frozen=True, slots=True)
class CupedStats(_Sums):
    """One arm of a mean metric with a pre-exposure covariate ``x`` for CUPED (Deng et al. 2013).

    ``cov_sum``/``cov_sum_squares`` are the covariate's sum and sum of squares, ``cross_sum`` is ``Σ y·x``.
    The covariate is usually the same metric measured before exposure (0 for units not seen before).
    """

    n: int
    sum: float
    sum_squares: float
    cov_sum: float
    cov_sum_squares: float
    cross_sum: float

    _squares = (("sum", "sum_squares"), ("cov_sum", "cov_sum_squares"))

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def from_values(cls, values: ArrayLike, covariate: ArrayLike) -> CupedStats:
        """Sufficient statistics of per-unit metric values and pre-period covariate values."""
        y = _vector(values, "values", "CupedStats.from_values")
        x = _vector(covariate, "covariate", "CupedStats.from_values")
        if y.size != x.size:
            raise InvalidInputError(
                f"CupedStats.from_values needs values and covariate of equal length; got {y.size} and {x.size}."
            )
        return cls(y.size, float(y.sum()), float(y @ y), float(x.sum()), float(x @ x), float(y @ x))

    @property
    def metric(self) -> MeanStats:
        """The unadjusted metric (pass it to :func:`ttest` for the plain test)."""
        return MeanStats(self.n, self.sum, self.sum_squares)

    @property
    def covariate(self) -> MeanStats:
        return MeanStats(self.n, self.cov_sum, self.cov_sum_squares)

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else _NAN

    @property
    def covariance(self) -> float:
        """Sample covariance of metric and covariate."""
        return _cov(self.n, self.sum, self.cov_sum, self.cross_sum)

    @property
    def correlation(self) -> float:
        denom = math.sqrt(self.metric.variance * self.covariate.variance)
        return self.covariance / denom if denom > 0 else _NAN


@dataclasses.dataclass(frozen=True, slots=True)
class CupedRatioStats(_Sums):
    """One arm of a ratio metric with a per-unit pre-exposure covariate ``x`` for CUPED.

    Adds to :class:`RatioStats` the covariate's sum and sum of squares and its cross sums with the
    numerator (``num_cov_sum = Σ y·x``) and denominator (``den_cov_sum = Σ d·x``). The ratio is
    linearised (Deng et al. 2018) and the linearised value is regression-adjusted (Deng et al. 2013).
    """

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    num_den_sum: float
    cov_sum: float
    cov_sum_squares: float
    num_cov_sum: float
    den_cov_sum: float

    _squares = (
        ("num_sum", "num_sum_squares"),
        ("den_sum", "den_sum_squares"),
        ("cov_sum", "cov_sum_squares"),
    )

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def from_values(cls, numerator: ArrayLike, denominator: ArrayLike, covariate: ArrayLike) -> CupedRatioStats:
        """Sufficient statistics of per-unit numerator, denominator and covariate arrays of equal length."""
        owner = "CupedRatioStats.from_values"
        y = _vector(numerator, "numerator", owner)
        d = _vector(denominator, "denominator", owner)
        x = _vector(covariate, "covariate", owner)
        if not y.size == d.size == x.size:
            raise InvalidInputError(f"{owner} needs arrays of equal length; got {y.size}, {d.size} and {x.size}.")
        return cls(
            y.size, float(y.sum()), float(y @ y), float(d.sum()), float(d @ d), float(y @ d),
            float(x.sum()), float(x @ x), float(y @ x), float(d @ x),
        )  # fmt: skip

    @property
    def ratio_stats(self) -> RatioStats:
        """The unadjusted ratio metric (pass it to :func:`ratio_ttest` for the plain test)."""
        return RatioStats(
            self.n, self.num_sum, self.num_sum_squares, self.den_sum, self.den_sum_squares, self.num_den_sum
        )

    @property
    def covariate(self) -> MeanStats:
        return MeanStats(self.n, self.cov_sum, self.cov_sum_squares)

    @property
    def ratio(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum else _NAN

    @property
    def covariance(self) -> float:
        """Sample covariance of the linearised ratio ``(y − R·d)/μ_d`` with the covariate."""
        if not self.den_sum:
            return _NAN
        cov_y = _cov(self.n, self.num_sum, self.cov_sum, self.num_cov_sum)
        cov_d = _cov(self.n, self.den_sum, self.cov_sum, self.den_cov_sum)
        return (cov_y - self.ratio * cov_d) / (self.den_sum / self.n)

    @property
    def correlation(self) -> float:
        denom = math.sqrt(self.ratio_stats.ratio_variance * self.covariate.variance)
        return self.covariance / denom if denom > 0 else _NAN
