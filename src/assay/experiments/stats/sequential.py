"""Sequential testing that stays valid under continuous peeking: asymptotic confidence sequences.

A fixed-horizon p-value checked after every batch and acted on at the first ``p < 0.05`` has a false
positive rate far above 5%. A *confidence sequence* is a sequence of intervals that covers the true lift
at *all* sample sizes at once with probability ``1 − alpha``, so it can be watched continuously and the
experiment stopped whenever it excludes 0.

With ``N`` units in both arms together, ``se`` the fixed-horizon standard error of the lift (absolute,
or relative via the delta method) and ``z = estimate/se``, the normal-mixture martingale
``M_N = (1 + Nρ²)^(−1/2) · exp(Nρ²z² / (2(1 + Nρ²)))`` exceeds ``1/alpha`` at any time with probability
at most alpha under H0 (Ville's inequality). This is the two-sided normal-mixture boundary (Robbins 1970;
Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist.) with a plug-in variance, i.e. the asymptotic confidence sequence of
Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2024, "Time-uniform central limit theory and asymptotic
confidence sequences", Ann. Statist.), the method GrowthBook ships. Inverting it gives the interval

    estimate ± se · sqrt( (Nρ² + 1)/(Nρ²) · 2·log( sqrt(Nρ² + 1)/alpha ) )

and the always-valid p-value ``p = min(1, 1/M_N)``; ``p < alpha`` exactly when the interval excludes 0.
The p-value may be read at any time under any stopping rule; the minimum over the looks so far is valid too.

Tuning parameter ``tuning_n`` (default 5000): the total sample size (both arms) at which the interval is
tightest, through ``ρ² = (−2·log alpha + log(1 − 2·log alpha)) / tuning_n`` (Howard et al. 2021).
Set it to the sample size at which you expect to decide; validity holds for any value, only the width at
other sample sizes changes. One-sided alternatives use the same two-sided boundary at ``alpha`` and count
only evidence in the chosen direction: valid, slightly conservative. The guarantee is asymptotic (it
rests on the central limit theorem), so rely on it from a few hundred units per arm on.
"""

from __future__ import annotations

import dataclasses
import math

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import AnyStats, pair_for
from assay.experiments.stats.frequentist import lift
from assay.experiments.stats.results import (
    ResultMixin,
    Status,
    fmt_interval,
    fmt_level,
    fmt_lift,
    fmt_p,
    problem_sentence,
)

__all__ = ["SequentialResult", "sequential_ttest"]

_NAN = math.nan


@dataclasses.dataclass(frozen=True)
class SequentialResult(ResultMixin):
    """An always-valid comparison: ``[ci_low, ci_high]`` and ``p_value`` stay valid under peeking."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    relative: bool
    alternative: str
    alpha: float
    tuning_n: int
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
        interval = fmt_interval(self.ci_low, self.ci_high, self.alpha, self.relative, kind="always-valid CI")
        if self.alternative != "two-sided":
            interval = "always-valid " + interval
        verdict = "statistically significant" if self.significant else "not yet statistically significant"
        return (
            f"Treatment is {fmt_lift(self.estimate, self.relative)} vs control ({interval}, always-valid "
            f"{fmt_p(self.p_value)}, {counts}): {verdict} at the {fmt_level(1 - self.alpha)} level, "
            f"valid however often the results are checked."
        )


def mixture_rho2(alpha: float, tuning_n: float) -> float:
    """``ρ²`` that makes the normal-mixture boundary tightest at ``tuning_n`` (Howard et al. 2021)."""
    log_term = -2 * math.log(alpha)
    return (log_term + math.log(log_term + 1)) / tuning_n


def boundary_factor(n_total: float, alpha: float, rho2: float) -> float:
    """Multiplier of the standard error giving the confidence-sequence half-width at ``n_total`` units."""
    v = n_total * rho2
    return math.sqrt((v + 1) / v * 2 * math.log(math.sqrt(v + 1) / alpha))


def always_valid_p(z: float, n_total: float, rho2: float) -> float:
    """``1 / M_N`` for the normal-mixture martingale ``M_N`` at standardised statistic ``z``, capped at 1."""
    v = n_total * rho2
    log_m = v * z * z / (2 * (v + 1)) - 0.5 * math.log1p(v)
    return 1.0 if log_m <= 0 else math.exp(-log_m)


def sequential_ttest(
    control: AnyStats,
    treatment: AnyStats,
    *,
    relative: bool = True,
    alternative: str = "two-sided",
    alpha: float = 0.05,
    tuning_n: int = 5000,
) -> SequentialResult:
    """Always-valid interval and p-value for the lift, safe to check after every batch (see module doc).

    Accepts :class:`MeanStats`, :class:`RatioStats`, :class:`CupedStats` or :class:`CupedRatioStats`
    (CUPED statistics are tested on their adjusted values).

    Example::

        >>> c = MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
        >>> t = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
        >>> r = sequential_ttest(c, t, relative=False)
        >>> r.ci_low < 0.0454 and r.ci_high > 0.5346     # wider than the fixed-horizon interval
        True
    """
    owner = "sequential_ttest"
    relative = _checks.flag(relative, "relative", owner)
    alternative = _checks.alternative(alternative, owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    tuning_n = _checks.count(tuning_n, "tuning_n", owner, minimum=1)
    pair = pair_for(control, treatment, owner)
    est = lift(pair.control, pair.treatment, relative)
    se = math.sqrt(est.var) if est.var == est.var else _NAN
    ci_low = ci_high = p = _NAN
    if est.status == "ok":
        n_total = pair.control.n + pair.treatment.n
        rho2 = mixture_rho2(alpha, tuning_n)
        half = boundary_factor(n_total, alpha, rho2) * se
        z = est.estimate / se
        if alternative == "two-sided":
            ci_low, ci_high = est.estimate - half, est.estimate + half
            p = always_valid_p(z, n_total, rho2)
        elif alternative == "greater":
            ci_low, ci_high = est.estimate - half, math.inf
            p = always_valid_p(z, n_total, rho2) if z > 0 else 1.0
        else:
            ci_low, ci_high = -math.inf, est.estimate + half
            p = always_valid_p(z, n_total, rho2) if z < 0 else 1.0
    return SequentialResult(
        estimate=float(est.estimate),
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p,
        significant=bool(p < alpha),
        relative=relative,
        alternative=alternative,
        alpha=alpha,
        tuning_n=tuning_n,
        control_mean=float(pair.control.mean),
        treatment_mean=float(pair.treatment.mean),
        control_n=pair.control.n,
        treatment_n=pair.treatment.n,
        method=f"mixture_sequential_{pair.kind}",
        status=est.status,
        warnings=pair.warnings + est.warnings,
    )
