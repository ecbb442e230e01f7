"""Fixed-horizon Welch t-test on absolute or relative lift, from sufficient statistics.

Absolute lift ``Δ = m_t − m_c`` has variance ``v_t + v_c`` (``v = s²/n``). Relative lift
``Δ% = m_t/m_c − 1`` has delta-method variance ``v_t/m_c² + m_t²·v_c/m_c⁴`` (Casella & Berger,
*Statistical Inference*, §5.5.4; as used by GrowthBook's gbstats). Degrees of freedom follow
Welch–Satterthwaite (Welch 1947) on the two variance components, and p-values and intervals use the
Student t distribution — so ``ttest(..., relative=False)`` equals
``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``.
"""

from __future__ import annotations

import dataclasses
import math

from scipy import special

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import Arm, mean_arm, require
from assay.experiments.stats.results import (
    ResultMixin,
    Status,
    fmt_interval,
    fmt_level,
    fmt_lift,
    fmt_p,
    problem_sentence,
)
from assay.experiments.stats.sufficient import MeanStats

__all__ = ["TestResult", "ttest"]

_NAN = math.nan


@dataclasses.dataclass(frozen=True, slots=True)
class Lift:
    """A lift estimate with its variance and Welch degrees of freedom, or the reason it is undefined."""

    estimate: float
    var: float
    df: float
    status: Status
    warnings: tuple[str, ...]


def lift(control: Arm, treatment: Arm, relative: bool) -> Lift:
    """Estimate the lift of ``treatment`` over ``control`` and its variance (see module docstring)."""
    warnings: list[str] = []
    for name, arm in (("control", control), ("treatment", treatment)):
        if arm.n == 0:
            warnings.append(f"The {name} arm has no units.")
        elif arm.n < 2:
            warnings.append(f"The {name} arm has 1 unit; a variance needs at least 2 per arm.")
    if warnings:
        return _undefined_or_point(control, treatment, relative, "insufficient_data", warnings)
    for name, arm in (("control", control), ("treatment", treatment)):
        if arm.undefined_ratio:
            warnings.append(f"The {name} arm's denominator sums to 0, so its ratio is undefined.")
    if warnings:
        return Lift(_NAN, _NAN, _NAN, "undefined_ratio", tuple(warnings))
    if relative and control.mean == 0:
        msg = "The control mean is 0, so a relative lift is undefined; use relative=False."
        return Lift(_NAN, _NAN, _NAN, "undefined_relative", (msg,))
    if relative:
        mc, mt = control.mean, treatment.mean
        estimate = mt / mc - 1
        v_c, v_t = mt * mt * control.var / mc**4, treatment.var / (mc * mc)
        if mc < 0:
            warnings.append("The control mean is negative, so the sign of the relative lift is reversed.")
    else:
        estimate = treatment.mean - control.mean
        v_c, v_t = control.var, treatment.var
    var = v_c + v_t
    if var <= 0:
        warnings.append("Both arms have zero variance, so the standard error is 0 and the test is undefined.")
        return Lift(estimate, 0.0, _NAN, "zero_variance", tuple(warnings))
    df = var * var / (v_c * v_c / (control.n - 1) + v_t * v_t / (treatment.n - 1))
    return Lift(estimate, var, df, "ok", tuple(warnings))


def _undefined_or_point(c: Arm, t: Arm, relative: bool, status: Status, warnings: list[str]) -> Lift:
    """With one unit per arm a point estimate exists but no variance; with zero units nothing does."""
    estimate = _NAN
    if c.n and t.n and not (c.undefined_ratio or t.undefined_ratio):
        if not relative:
            estimate = t.mean - c.mean
        elif c.mean != 0:
            estimate = t.mean / c.mean - 1
    return Lift(estimate, _NAN, _NAN, status, tuple(warnings))


@dataclasses.dataclass(frozen=True)
class TestResult(ResultMixin):
    """A frequentist comparison of treatment against control.

    ``estimate`` is the lift (a fraction when ``relative``: 0.05 is +5%), ``se`` its standard error,
    ``[ci_low, ci_high]`` the ``1 − alpha`` confidence interval (one-sided tests give an infinite bound),
    ``p_value`` the p-value of H0 ``lift = null_value`` against ``alternative``.
    """

    __test__ = False  # not a pytest test class, despite the name

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    df: float
    significant: bool
    relative: bool
    alternative: str
    alpha: float
    null_value: float
    control_mean: float
    treatment_mean: float
    control_n: int
    treatment_n: int
    method: str
    status: Status
    warnings: tuple[str, ...]

    def summary(self) -> str:
        counts = f"n = {self.control_n:,} control, {self.treatment_n:,} treatment"
        if self.status != "ok":
            return f"{problem_sentence(self.status, self.warnings)} ({counts})."
        interval = fmt_interval(self.ci_low, self.ci_high, self.alpha, self.relative)
        verdict = "statistically significant" if self.significant else "not statistically significant"
        return (
            f"Treatment is {fmt_lift(self.estimate, self.relative)} vs control ({interval}, "
            f"{fmt_p(self.p_value)}, {counts}): {verdict} at the {fmt_level(1 - self.alpha)} level."
        )


def compare(
    control: Arm,
    treatment: Arm,
    *,
    relative: bool,
    alternative: str,
    alpha: float,
    method: str,
    null_value: float = 0.0,
    warnings: tuple[str, ...] = (),
) -> TestResult:
    """Welch t-test of two reduced arms; the shared core of every frequentist function here."""
    est = lift(control, treatment, relative)
    se = math.sqrt(est.var) if est.var == est.var else _NAN
    ci_low = ci_high = p = _NAN
    if est.status == "ok":
        t_stat = (est.estimate - null_value) / se
        if alternative == "two-sided":
            q = special.stdtrit(est.df, 1 - alpha / 2)
            ci_low, ci_high = est.estimate - q * se, est.estimate + q * se
            p = 2 * special.stdtr(est.df, -abs(t_stat))
        elif alternative == "greater":
            ci_low, ci_high = est.estimate - special.stdtrit(est.df, 1 - alpha) * se, math.inf
            p = special.stdtr(est.df, -t_stat)
        else:
            ci_low, ci_high = -math.inf, est.estimate + special.stdtrit(est.df, 1 - alpha) * se
            p = special.stdtr(est.df, t_stat)
        p = min(float(p), 1.0)
    return TestResult(
        estimate=float(est.estimate),
        se=se,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        p_value=float(p),
        df=float(est.df),
        significant=bool(p < alpha),
        relative=relative,
        alternative=alternative,
        alpha=alpha,
        null_value=null_value,
        control_mean=float(control.mean),
        treatment_mean=float(treatment.mean),
        control_n=control.n,
        treatment_n=treatment.n,
        method=method,
        status=est.status,
        warnings=warnings + est.warnings,
    )


def ttest(
    control: MeanStats,
    treatment: MeanStats,
    *,
    relative: bool = True,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> TestResult:
    """Welch t-test of the treatment mean against the control mean (proportions are means of 0/1).

    ``relative=True`` tests ``m_t/m_c − 1`` with a delta-method standard error; ``alternative`` is
    ``"two-sided"``, ``"greater"`` (treatment higher) or ``"less"``. See the module docstring for the
    formulas and references.

    Example::

        >>> c = MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
        >>> t = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
        >>> r = ttest(c, t, relative=False)
        >>> round(r.estimate, 2), round(r.ci_low, 4), round(r.ci_high, 4), round(r.p_value, 4)
        (0.29, 0.0454, 0.5346, 0.0202)
    """
    owner = "ttest"
    require((control, treatment), MeanStats, owner, "MeanStats (use ratio_ttest or cuped_ttest for other kinds)")
    relative = _checks.flag(relative, "relative", owner)
    alternative = _checks.alternative(alternative, owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    return compare(
        mean_arm(control), mean_arm(treatment), relative=relative, alternative=alternative, alpha=alpha,
        method="welch_t",
    )  # fmt: skip
