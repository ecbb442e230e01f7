"""CUPED: regression adjustment with a pre-exposure covariate (Deng, Xu, Kohavi & Walker 2013).

Each arm's mean (or linearised ratio, Deng et al. 2018) becomes ``ȳ − θ(x̄ − μ_x)`` with one ``θ``
pooled across arms from within-arm covariances, ``θ = Σ(n−1)·s_yx / Σ(n−1)·s²_x`` — the OLS slope of
``y ~ 1 + treatment + x`` — so the adjusted absolute lift equals that regression's treatment
coefficient. The variance of each arm shrinks by the factor ``1 − ρ²`` where ``ρ`` is the metric–covariate
correlation. Because the covariate is measured before exposure, the adjustment removes noise without
biasing the lift. See :mod:`assay.experiments.stats._arms` for the arithmetic.
"""

from __future__ import annotations

import dataclasses
import math

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import cuped_pair, require
from assay.experiments.stats.frequentist import TestResult, compare
from assay.experiments.stats.results import ResultMixin, Status, fmt_lift, fmt_p
from assay.experiments.stats.sufficient import CupedRatioStats, CupedStats

__all__ = ["CupedResult", "cuped_ttest"]


@dataclasses.dataclass(frozen=True)
class CupedResult(ResultMixin):
    """The CUPED-adjusted test beside the unadjusted one.

    ``variance_reduction`` is ``1 − se_adjusted²/se_unadjusted²`` for the reported lift (0.3 means the
    adjusted test needs 30% fewer units for the same precision); ``theta`` is the pooled regression slope.
    ``estimate``, ``ci_low``, ``ci_high``, ``se`` and ``p_value`` read through to the adjusted result.
    """

    adjusted: TestResult
    unadjusted: TestResult
    theta: float
    variance_reduction: float
    status: Status
    warnings: tuple[str, ...]

    @property
    def estimate(self) -> float:
        return self.adjusted.estimate

    @property
    def se(self) -> float:
        return self.adjusted.se

    @property
    def ci_low(self) -> float:
        return self.adjusted.ci_low

    @property
    def ci_high(self) -> float:
        return self.adjusted.ci_high

    @property
    def p_value(self) -> float:
        return self.adjusted.p_value

    def summary(self) -> str:
        text = f"With CUPED: {self.adjusted.summary()}"
        if self.status == "ok" and math.isfinite(self.variance_reduction):
            text += (
                f" CUPED cut the variance by {self.variance_reduction * 100:.0f}%"
                f" (unadjusted: {fmt_lift(self.unadjusted.estimate, self.unadjusted.relative)},"
                f" {fmt_p(self.unadjusted.p_value)})."
            )
        return text


def cuped_ttest(
    control: CupedStats | CupedRatioStats,
    treatment: CupedStats | CupedRatioStats,
    *,
    relative: bool = True,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> CupedResult:
    """Welch t-test on CUPED-adjusted means (or ratios), reported beside the unadjusted test.

    Pass :class:`CupedStats` for a mean metric or :class:`CupedRatioStats` for a ratio metric; the
    covariate must be measured before exposure (usually the same metric in a pre-period).

    Example::

        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(10, 2, (2, 5000)); y = x + rng.normal(0, 1, (2, 5000)); y[1] += 0.05
        >>> r = cuped_ttest(CupedStats.from_values(y[0], x[0]), CupedStats.from_values(y[1], x[1]))
        >>> r.variance_reduction > 0.7
        True
    """
    owner = "cuped_ttest"
    require((control, treatment), (CupedStats, CupedRatioStats), owner, "CupedStats or CupedRatioStats")
    relative = _checks.flag(relative, "relative", owner)
    alternative = _checks.alternative(alternative, owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    pair = cuped_pair(control, treatment)
    assert pair.unadjusted is not None
    kind = "cuped_welch_t" if pair.kind == "cuped" else "cuped_ratio_delta_welch_t"
    plain_kind = "welch_t" if pair.kind == "cuped" else "ratio_delta_welch_t"
    options = {"relative": relative, "alternative": alternative, "alpha": alpha}
    adjusted = compare(pair.control, pair.treatment, method=kind, warnings=pair.warnings, **options)
    unadjusted = compare(*pair.unadjusted, method=plain_kind, **options)
    reduction = math.nan
    if adjusted.status == "ok" and unadjusted.status == "ok" and unadjusted.se > 0:
        reduction = 1 - (adjusted.se / unadjusted.se) ** 2
    return CupedResult(
        adjusted=adjusted,
        unadjusted=unadjusted,
        theta=float(pair.theta),
        variance_reduction=reduction,
        status=adjusted.status,
        warnings=adjusted.warnings,
    )
