"""Welch t-test for ratio metrics (clicks per session, revenue per order) via the delta method.

When the unit of randomisation (user) is not the unit in the denominator (session), sessions are not
independent and the naive per-session variance is too small. The delta method linearises each arm's
ratio ``Σy/Σd`` around its means and gives ``Var(R̂) ≈ σ²_lin/n`` with
``σ²_lin = (σ²_y − 2R·σ_yd + R²·σ²_d)/μ_d²`` (Deng, Knoblich & Lu 2018, "Applying the Delta Method in
Metric Analytics: A Practical Guide with Novel Ideas", KDD). The two arms are then compared exactly like
means (see :mod:`assay.experiments.stats.frequentist`).
"""

from __future__ import annotations

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import ratio_arm, require
from assay.experiments.stats.frequentist import TestResult, compare
from assay.experiments.stats.sufficient import RatioStats

__all__ = ["ratio_ttest"]


def ratio_ttest(
    control: RatioStats,
    treatment: RatioStats,
    *,
    relative: bool = True,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> TestResult:
    """Welch t-test of the treatment ratio ``Σnum/Σden`` against control, delta-method variances.

    ``control_mean``/``treatment_mean`` in the result are the two ratios. An arm whose denominator sums
    to 0 gives ``status="undefined_ratio"``.

    Example::

        >>> c = RatioStats.from_values([3, 0, 5, 1], [2, 1, 4, 1])   # clicks, sessions per user
        >>> t = RatioStats.from_values([4, 2, 6, 2], [2, 2, 4, 1])
        >>> round(ratio_ttest(c, t, relative=False).estimate, 4)
        0.4306
    """
    owner = "ratio_ttest"
    require((control, treatment), RatioStats, owner, "RatioStats")
    relative = _checks.flag(relative, "relative", owner)
    alternative = _checks.alternative(alternative, owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    return compare(
        ratio_arm(control), ratio_arm(treatment), relative=relative, alternative=alternative, alpha=alpha,
        method="ratio_delta_welch_t",
    )  # fmt: skip
