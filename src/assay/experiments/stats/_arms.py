"""Reduce each arm's sufficient statistics to an estimate and its variance, ready to compare.

A mean arm gives ``(ȳ, s²/n)``; a ratio arm gives ``(Σy/Σd, σ²_lin/n)`` by the delta method
(Deng et al. 2018); a CUPED arm gives the regression-adjusted mean ``ȳ − θ(x̄ − μ_x)`` with variance
``(s²_y − 2θ·s_yx + θ²·s²_x)/n`` (Deng et al. 2013, "Improving the Sensitivity of Online Controlled
Experiments by Utilizing Pre-Experiment Data", WSDM). ``θ`` is pooled across arms from within-arm
(co)variances, which makes the absolute CUPED estimate identical to the treatment coefficient of the
OLS regression ``y ~ 1 + treatment + x``; ``μ_x`` is the covariate mean over both arms.
"""

from __future__ import annotations

import dataclasses
import math

from assay.errors import InvalidInputError
from assay.experiments.stats.sufficient import CupedRatioStats, CupedStats, MeanStats, RatioStats

_NAN = math.nan
AnyStats = MeanStats | RatioStats | CupedStats | CupedRatioStats


@dataclasses.dataclass(frozen=True, slots=True)
class Arm:
    """One arm reduced to ``mean`` (the metric estimate) and ``var`` (its sampling variance)."""

    n: int
    mean: float
    var: float
    undefined_ratio: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    """Control and treatment arms, plus the CUPED details when the arms were adjusted."""

    control: Arm
    treatment: Arm
    kind: str  # "mean" | "ratio" | "cuped" | "cuped_ratio"
    theta: float = _NAN
    unadjusted: tuple[Arm, Arm] | None = None
    warnings: tuple[str, ...] = ()


def mean_arm(s: MeanStats) -> Arm:
    return Arm(s.n, s.mean, s.variance / s.n if s.n else _NAN)


def ratio_arm(s: RatioStats) -> Arm:
    return Arm(s.n, s.ratio, s.ratio_variance / s.n if s.n else _NAN, undefined_ratio=s.n > 0 and not s.den_sum)


def _cuped_moments(s: CupedStats | CupedRatioStats) -> tuple[Arm, float, float, float]:
    """Unadjusted arm, per-unit metric variance, covariance with the covariate, covariate variance."""
    if isinstance(s, CupedStats):
        plain = mean_arm(s.metric)
        var_y = s.metric.variance
    else:
        plain = ratio_arm(s.ratio_stats)
        var_y = s.ratio_stats.ratio_variance
    return plain, var_y, s.covariance, s.covariate.variance


def cuped_pair(control: CupedStats | CupedRatioStats, treatment: CupedStats | CupedRatioStats) -> Pair:
    """Regression-adjust both arms with one pooled ``θ`` (see module docstring)."""
    moments = [_cuped_moments(s) for s in (control, treatment)]
    stats = (control, treatment)
    num = den = 0.0
    for s, (_, _, cov_yx, var_x) in zip(stats, moments, strict=True):
        if s.n >= 2 and math.isfinite(cov_yx):
            num += (s.n - 1) * cov_yx
            den += (s.n - 1) * var_x
    warnings: tuple[str, ...] = ()
    theta = num / den if den > 0 else 0.0
    if den <= 0 and all(s.n >= 2 for s in stats):
        warnings = ("The covariate has zero variance within arms, so CUPED cannot reduce variance (θ = 0).",)
    total_n = control.n + treatment.n
    mu_x = (control.cov_sum + treatment.cov_sum) / total_n if total_n else _NAN
    adjusted = []
    for s, (plain, var_y, cov_yx, var_x) in zip(stats, moments, strict=True):
        if s.n == 0:
            adjusted.append(plain)
            continue
        x_bar = s.cov_sum / s.n
        var_adj = max(var_y - 2 * theta * cov_yx + theta * theta * var_x, 0.0) if s.n >= 2 else _NAN
        adjusted.append(Arm(s.n, plain.mean - theta * (x_bar - mu_x), var_adj / s.n, plain.undefined_ratio))
    kind = "cuped" if isinstance(control, CupedStats) else "cuped_ratio"
    return Pair(adjusted[0], adjusted[1], kind, theta, (moments[0][0], moments[1][0]), warnings)


def pair_for(control: AnyStats, treatment: AnyStats, owner: str) -> Pair:
    """Dispatch on the statistics type; both arms must be of the same type."""
    if type(control) is not type(treatment):
        raise InvalidInputError(
            f"{owner} needs both arms as the same statistics type; got {type(control).__name__} and "
            f"{type(treatment).__name__}."
        )
    if isinstance(control, MeanStats):
        return Pair(mean_arm(control), mean_arm(treatment), "mean")  # type: ignore[arg-type]
    if isinstance(control, RatioStats):
        return Pair(ratio_arm(control), ratio_arm(treatment), "ratio")  # type: ignore[arg-type]
    if isinstance(control, CupedStats | CupedRatioStats):
        return cuped_pair(control, treatment)  # type: ignore[arg-type]
    raise InvalidInputError(
        f"{owner} needs MeanStats, RatioStats, CupedStats or CupedRatioStats; got {type(control).__name__}."
    )


def require(stats: tuple[object, object], types: type | tuple[type, ...], owner: str, hint: str) -> None:
    """Raise a helpful error when a function receives the wrong statistics type."""
    for name, s in zip(("control", "treatment"), stats, strict=True):
        if not isinstance(s, types):
            raise InvalidInputError(f"The {name!r} parameter of {owner} must be {hint}. Got {type(s).__name__}.")
    if type(stats[0]) is not type(stats[1]):
        raise InvalidInputError(
            f"{owner} needs both arms as the same statistics type; got {type(stats[0]).__name__} and "
            f"{type(stats[1]).__name__}."
        )
