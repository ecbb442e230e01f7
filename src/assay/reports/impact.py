"""Projected business impact of a measured lift: annualised revenue with its interval, and the assumptions stated.

The projection is a linear map of the experiment's interval, so its uncertainty is exactly the statistical one::

    impact = lift × baseline_revenue × exposed_share × horizon_years        (same map for both interval bounds)

``baseline_revenue`` is the yearly revenue that moves with the primary metric (stated by the reader: the
report never guesses it); ``exposed_share`` the share of it the change will reach once shipped; the lift is
read in the metric's desired direction (a 2% fall of a ``decrease`` metric such as churn counts as +2%). An
absolute lift is turned into a relative one by dividing by the control mean (treated as known). What the
interval leaves out — novelty effects, seasonality, interactions with other launches, the effect beyond
the metric's window — is listed in ``assumptions`` and is not in the numbers.

``probability_positive`` is the chance the true effect is in the desired direction, read off the normal
approximation of the estimate with a flat prior (Φ(estimate / se)); Bayesian analyses give it directly.

Example::

    >>> imp = project_impact(0.023, 0.008, 0.039, BusinessInputs(baseline_revenue=10e6), metric="conversion")
    >>> round(imp.estimate), round(imp.low), round(imp.high)
    (230000, 80000, 390000)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _st

from assay.errors import InvalidInputError
from assay.reports.words import chance, finite, money, money_interval, pct
from assay.results import ResultMixin

__all__ = ["BusinessInputs", "Impact", "project_impact"]


@dataclass(frozen=True)
class BusinessInputs:
    """What the reader states about the business: yearly revenue moving with the metric, reach, horizon.

    Example::

        BusinessInputs(baseline_revenue=12_000_000, currency="€", exposed_share=0.6)
    """

    baseline_revenue: float | None = None
    currency: str = "$"
    exposed_share: float = 1.0
    horizon_years: float = 1.0

    def __post_init__(self) -> None:
        b = self.baseline_revenue
        if b is not None and (isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0):
            raise InvalidInputError(
                f"The 'baseline_revenue' parameter must be a positive number (yearly revenue that moves with the "
                f"primary metric, e.g. 12000000). Got {b!r}."
            )
        s = self.exposed_share
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s <= 1:
            raise InvalidInputError(f"The 'exposed_share' parameter must be in (0, 1]. Got {s!r}.")
        h = self.horizon_years
        if isinstance(h, bool) or not isinstance(h, int | float) or not 0 < h <= 10:
            raise InvalidInputError(f"The 'horizon_years' parameter must be in (0, 10]. Got {h!r}.")
        if not isinstance(self.currency, str) or len(self.currency) > 8:
            raise InvalidInputError(
                f"The 'currency' parameter must be a short symbol such as '$' or 'EUR '. Got {self.currency!r}."
            )


@dataclass(frozen=True)
class Impact(ResultMixin):
    """A projected revenue impact. ``status``: ``ok``, ``no_baseline`` (no revenue stated: the lift alone is
    reported) or ``not_estimable`` (the lift has no finite estimate or interval)."""

    metric: str
    lift: float
    lift_low: float | None
    lift_high: float | None
    estimate: float
    low: float | None
    high: float | None
    probability_positive: float | None
    inputs: BusinessInputs
    status: str
    assumptions: tuple[str, ...]

    @property
    def period(self) -> str:
        h = self.inputs.horizon_years
        return "per year" if h == 1 else f"over {h:g} years"

    def summary(self) -> str:
        if self.status == "not_estimable":
            return f"No business impact can be projected: the {self.metric} lift has no finite interval."
        if self.status == "no_baseline":
            return (
                f"No revenue projection: no baseline revenue was stated (pass baseline_revenue / "
                f"--baseline-revenue to turn the {pct(self.lift)} lift into money)."
            )
        span = money_interval(self.estimate, self.low, self.high, self.inputs.currency)
        text = f"Projected impact {self.period}: {span}"
        if self.probability_positive is not None:
            text += f"; chance it is positive: {chance(self.probability_positive)}"
        return text + "."


def project_impact(
    lift: float,
    lift_low: float | None,
    lift_high: float | None,
    inputs: BusinessInputs | None = None,
    *,
    metric: str = "the primary metric",
    direction: str = "increase",
    relative: bool = True,
    control_mean: float | None = None,
    se: float | None = None,
    chance_to_win: float | None = None,
) -> Impact:
    """Project the revenue impact of a lift (interval included) from the stated :class:`BusinessInputs`.

    ``lift``/``lift_low``/``lift_high`` are the experiment's estimate and interval (relative unless
    ``relative=False``, then divided by ``control_mean``); ``se`` its standard error (for the chance it is
    positive) or ``chance_to_win`` from a Bayesian analysis.

    Example::

        project_impact(0.023, 0.008, 0.039, BusinessInputs(baseline_revenue=10e6)).summary()
    """
    inputs = inputs if inputs is not None else BusinessInputs()
    if direction not in ("increase", "decrease"):
        raise InvalidInputError(f"The 'direction' parameter must be 'increase' or 'decrease'. Got {direction!r}.")
    assumptions: list[str] = []
    scale = 1.0
    if not relative:
        cm = finite(control_mean)
        if cm is None or cm == 0:
            return _none(metric, lift, lift_low, lift_high, inputs)
        scale = 1.0 / abs(cm)
        assumptions.append(
            f"The absolute change in {metric} is read against the control mean ({cm:.4g}), treated as known."
        )
    sign = 1.0 if direction == "increase" else -1.0
    est = finite(lift)
    if est is None:
        return _none(metric, lift, lift_low, lift_high, inputs)
    rel = sign * est * scale
    bounds = [finite(b) for b in (lift_low, lift_high)]
    rel_bounds = sorted(sign * b * scale for b in bounds if b is not None)
    lo, hi = (rel_bounds[0], rel_bounds[-1]) if len(rel_bounds) == 2 else (None, None)
    prob = chance_to_win
    if prob is None and finite(se) and se > 0:  # type: ignore[operator]
        prob = float(_st.norm.cdf(rel / (float(se) * scale)))
    if inputs.baseline_revenue is None:
        return Impact(metric, rel, lo, hi, math.nan, None, None, prob, inputs, "no_baseline", tuple(assumptions))
    factor = inputs.baseline_revenue * inputs.exposed_share * inputs.horizon_years
    cur = inputs.currency
    assumptions = [
        f"Baseline: {money(inputs.baseline_revenue, cur)} of yearly revenue moves one-for-one with {metric} "
        f"(stated by the reader, not measured).",
        f"Reach: the change applies to {inputs.exposed_share:.0%} of that revenue once shipped.",
        f"Duration: the measured effect holds for {inputs.horizon_years:g} year(s) without fading or growing.",
        *assumptions,
        "The range is the experiment's confidence interval scaled to money; novelty effects, seasonality and "
        "other launches are not in it.",
    ]
    if direction == "decrease":
        assumptions.insert(1, f"{metric} should fall: each 1% fewer is counted as 1% of the baseline gained.")
    return Impact(
        metric=metric,
        lift=rel,
        lift_low=lo,
        lift_high=hi,
        estimate=rel * factor,
        low=None if lo is None else lo * factor,
        high=None if hi is None else hi * factor,
        probability_positive=prob,
        inputs=inputs,
        status="ok",
        assumptions=tuple(assumptions),
    )


def _none(metric: str, lift: float, low: float | None, high: float | None, inputs: BusinessInputs) -> Impact:
    return Impact(metric, lift, low, high, math.nan, None, None, None, inputs, "not_estimable", ())
