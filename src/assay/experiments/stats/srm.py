"""Sample-ratio-mismatch (SRM) check: Pearson's chi-square test of arm counts against configured weights.

An SRM means assignment or logging is broken (bots filtered in one arm, a redirect losing users), and
then every metric comparison is suspect (Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in
Online Controlled Experiments", KDD). Expected counts are ``total × weight / Σweights``; the statistic
``Σ (observed − expected)² / expected`` has ``k − 1`` degrees of freedom (scipy.stats.chisquare).

``ok`` is ``p_value >= threshold`` with ``threshold = 0.001`` by default: SRM checks run on every
experiment and often every day, so a strict threshold keeps false alarms rare, while real SRMs on
production traffic give p-values far below it (the convention of Microsoft's ExP, GrowthBook and Optimizely).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from assay.errors import InvalidInputError
from assay.experiments.stats import _checks
from assay.experiments.stats.results import ResultMixin, Status, fmt_p

__all__ = ["SrmResult", "srm"]


@dataclasses.dataclass(frozen=True)
class SrmResult(ResultMixin):
    """Chi-square SRM check; ``ok`` is False when ``p_value < threshold`` (a mismatch).

    With no units observed yet there is nothing to check: ``ok`` stays True, ``p_value`` is nan and
    ``status`` is ``insufficient_data``.
    """

    ok: bool
    p_value: float
    statistic: float
    df: int
    counts: tuple[int, ...]
    expected: tuple[float, ...]
    weights: tuple[float, ...]
    threshold: float
    status: Status
    warnings: tuple[str, ...]

    def summary(self) -> str:
        total = sum(self.counts)
        if self.status != "ok":
            return f"Sample ratio not checked: {self.warnings[0]}"
        observed = " / ".join(f"{c / total * 100:.1f}%" for c in self.counts)
        wanted = " / ".join(f"{w * 100:.1f}%" for w in self.weights)
        verdict = (
            "Sample ratio OK"
            if self.ok
            else "Sample ratio mismatch: check assignment and logging before trusting any result"
        )
        return f"{verdict} ({observed} observed vs {wanted} configured, n = {total:,}, {fmt_p(self.p_value)})."


def srm(counts: Sequence[int], weights: Sequence[float], *, threshold: float = 0.001) -> SrmResult:
    """Check the observed units per arm against the configured traffic weights (see module docstring).

    Weights need not sum to 1; they are normalised.

    Example::

        >>> r = srm([1000, 1200], [0.5, 0.5])
        >>> r.ok, f"{r.p_value:.1e}"
        (False, '2.0e-05')
    """
    owner = "srm"
    threshold = _checks.open_unit(threshold, "threshold", owner)
    obs = tuple(_checks.count(c, "counts", owner) for c in counts)
    w = tuple(_checks.positive(x, "weights", owner) for x in weights)
    if len(obs) < 2 or len(obs) != len(w):
        raise InvalidInputError(
            f"srm needs one count and one weight per arm, at least 2 arms; got {len(obs)} counts and {len(w)} weights."
        )
    share = np.asarray(w) / sum(w)
    total = sum(obs)
    if total == 0:
        return SrmResult(
            ok=True, p_value=math.nan, statistic=math.nan, df=len(obs) - 1, counts=obs,
            expected=tuple(0.0 for _ in obs), weights=tuple(share.tolist()), threshold=threshold,
            status="insufficient_data", warnings=("no units have been observed yet.",),
        )  # fmt: skip
    expected = share * total
    res = sps.chisquare(np.asarray(obs, dtype=float), expected)
    warnings: tuple[str, ...] = ()
    if expected.min() < 5:
        warnings = ("Some expected counts are below 5, so the chi-square approximation is rough.",)
    p = float(res.pvalue)
    return SrmResult(
        ok=bool(p >= threshold), p_value=p, statistic=float(res.statistic), df=len(obs) - 1, counts=obs,
        expected=tuple(expected.tolist()), weights=tuple(share.tolist()), threshold=threshold,
        status="ok", warnings=warnings,
    )  # fmt: skip
