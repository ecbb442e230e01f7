"""Bayesian readout: Gaussian posterior on the lift, chance to beat control and expected loss (risk).

The likelihood of the lift is Gaussian, ``N(estimate, se²)`` with the Welch/delta-method estimate and
standard error of :mod:`assay.experiments.stats.frequentist` (a large-sample approximation, as in
GrowthBook's gbstats). With a proper prior ``N(m₀, s₀²)`` on the lift the posterior is the conjugate
precision-weighted average (Gelman et al., *Bayesian Data Analysis*, 3rd ed., §2.5):

    precision = 1/se² + 1/s₀²,   mean = (estimate/se² + m₀/s₀²) / precision

``prior=None`` is the flat (improper) prior, so the posterior mean is the estimate itself.
For ``Δ ~ N(μ, s²)``: chance to win ``P(Δ > 0) = Φ(μ/s)``; the expected loss of shipping treatment is
``E[max(−Δ, 0)] = s·φ(μ/s) − μ·Φ(−μ/s)`` and of keeping control ``E[max(Δ, 0)] = s·φ(μ/s) + μ·Φ(μ/s)``
(Stucchio 2015, "Bayesian A/B Testing at VWO"), both in lift units (fractions when ``relative``).
"""

from __future__ import annotations

import dataclasses
import math

from scipy import special

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import AnyStats, pair_for
from assay.experiments.stats.frequentist import lift
from assay.experiments.stats.results import ResultMixin, Status, fmt_interval, fmt_lift, problem_sentence

__all__ = ["BayesianResult", "NormalPrior", "bayesian"]

_NAN = math.nan
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@dataclasses.dataclass(frozen=True, slots=True)
class NormalPrior:
    """A proper normal prior on the lift, in lift units (``sd=0.3`` with ``relative`` means ±30%)."""

    mean: float = 0.0
    sd: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _checks.real(self.mean, "mean", "NormalPrior"))
        object.__setattr__(self, "sd", _checks.positive(self.sd, "sd", "NormalPrior"))


@dataclasses.dataclass(frozen=True)
class BayesianResult(ResultMixin):
    """Posterior of the lift: ``estimate`` (mean), ``sd``, ``1 − alpha`` credible interval, chance to win, risks."""

    estimate: float
    sd: float
    ci_low: float
    ci_high: float
    chance_to_win: float
    risk_control: float
    risk_treatment: float
    relative: bool
    alpha: float
    prior: NormalPrior | None
    control_mean: float
    treatment_mean: float
    control_n: int
    treatment_n: int
    method: str
    status: Status
    warnings: tuple[str, ...]

    @property
    def risk(self) -> float:
        """Expected loss of shipping treatment (how much lift you give up, on average, if it is worse)."""
        return self.risk_treatment

    def summary(self) -> str:
        counts = f"n = {self.control_n:,} control, {self.treatment_n:,} treatment"
        if self.status != "ok":
            return f"{problem_sentence(self.status, self.warnings)} ({counts})."
        interval = fmt_interval(self.ci_low, self.ci_high, self.alpha, self.relative, kind="credible interval")
        return (
            f"Treatment has a {self.chance_to_win * 100:.1f}% chance to beat control; expected lift "
            f"{fmt_lift(self.estimate, self.relative)} ({interval}, {counts}). Expected loss if shipped: "
            f"{fmt_lift(self.risk_treatment, self.relative).lstrip('+')}; if not shipped: "
            f"{fmt_lift(self.risk_control, self.relative).lstrip('+')}."
        )


def bayesian(
    control: AnyStats,
    treatment: AnyStats,
    *,
    relative: bool = True,
    prior: NormalPrior | None = None,
    alpha: float = 0.05,
) -> BayesianResult:
    """Gaussian posterior of the lift with chance to win and expected loss (see module docstring).

    Accepts :class:`MeanStats`, :class:`RatioStats`, :class:`CupedStats` or :class:`CupedRatioStats`
    (CUPED statistics use their adjusted values). ``alpha`` sets the credible level (0.05 → 95%).

    Example::

        >>> c = MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
        >>> t = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
        >>> round(bayesian(c, t, relative=False).chance_to_win, 3)
        0.99
    """
    owner = "bayesian"
    relative = _checks.flag(relative, "relative", owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    if prior is not None and not isinstance(prior, NormalPrior):
        raise _checks.fail("prior", owner, "a NormalPrior or None", prior)
    pair = pair_for(control, treatment, owner)
    est = lift(pair.control, pair.treatment, relative)
    mean = sd = low = high = win = risk_c = risk_t = _NAN
    if est.status == "ok":
        precision = 1 / est.var
        weighted = est.estimate / est.var
        if prior is not None:
            precision += 1 / prior.sd**2
            weighted += prior.mean / prior.sd**2
        mean, sd = weighted / precision, math.sqrt(1 / precision)
        q = special.ndtri(1 - alpha / 2)
        low, high = mean - q * sd, mean + q * sd
        z = mean / sd
        win = float(special.ndtr(z))
        density = sd * _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        risk_c = density + mean * win
        risk_t = density - mean * float(special.ndtr(-z))
    method = f"gaussian_{'normal_prior' if prior else 'flat_prior'}_{pair.kind}"
    return BayesianResult(
        estimate=float(mean),
        sd=sd,
        ci_low=float(low),
        ci_high=float(high),
        chance_to_win=win,
        risk_control=float(risk_c),
        risk_treatment=float(risk_t),
        relative=relative,
        alpha=alpha,
        prior=prior,
        control_mean=float(pair.control.mean),
        treatment_mean=float(pair.treatment.mean),
        control_n=pair.control.n,
        treatment_n=pair.treatment.n,
        method=method,
        status=est.status,
        warnings=pair.warnings + est.warnings,
    )
