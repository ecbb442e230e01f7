"""Multiple-testing control across metrics × variants × slices: Holm (FWER) and Benjamini–Hochberg (FDR).

* ``holm``: Holm (1979), "A simple sequentially rejective multiple test procedure". Sorted p-values
  ``p(1) ≤ … ≤ p(m)`` are adjusted to ``max_{j≤i} min(1, (m − j + 1)·p(j))``; controls the
  family-wise error rate (the chance of *any* false positive) and is uniformly more powerful than
  Bonferroni. Use it for decision metrics and guardrails.
* ``bh``: Benjamini & Hochberg (1995), "Controlling the false discovery rate". Adjusted to
  ``min_{j≥i} min(1, m·p(j)/j)``; controls the expected share of false discoveries among the
  rejections (valid for independent or positively dependent tests). Use it for exploratory slices.
* ``bonferroni``: ``min(1, m·p)``, for reference.

Results match ``statsmodels.stats.multitest.multipletests`` (methods ``holm``, ``fdr_bh``, ``bonferroni``).
``nan`` p-values (tests that could not be run) are left out of the family and stay ``nan``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from assay.errors import InvalidInputError
from assay.experiments.stats import _checks
from assay.experiments.stats.results import ResultMixin, Status

__all__ = ["AdjustedPValues", "adjust_pvalues"]

_METHODS = ("holm", "bh", "bonferroni")


@dataclasses.dataclass(frozen=True)
class AdjustedPValues(ResultMixin):
    """Adjusted p-values in the input order, and which hypotheses are rejected at ``alpha``."""

    method: str
    alpha: float
    pvalues: tuple[float, ...]
    adjusted: tuple[float, ...]
    reject: tuple[bool, ...]
    status: Status
    warnings: tuple[str, ...]

    def summary(self) -> str:
        m = sum(1 for p in self.adjusted if p == p)
        what = {"holm": "Holm (family-wise error)", "bh": "Benjamini–Hochberg (false discovery rate)"}
        label = what.get(self.method, "Bonferroni (family-wise error)")
        text = f"{sum(self.reject)} of {m} tests remain significant at alpha = {self.alpha:g} after {label} correction."
        return text + (f" {' '.join(self.warnings)}" if self.warnings else "")


def adjust_pvalues(
    pvalues: ArrayLike | Sequence[float], method: str = "holm", *, alpha: float = 0.05
) -> AdjustedPValues:
    """Adjust a family of p-values with Holm (``"holm"``), Benjamini–Hochberg (``"bh"``) or ``"bonferroni"``.

    Example::

        >>> r = adjust_pvalues([0.01, 0.04, 0.03, 0.20], method="holm")
        >>> [round(p, 2) for p in r.adjusted], r.reject
        ([0.04, 0.09, 0.09, 0.2], (True, False, False, False))
    """
    owner = "adjust_pvalues"
    method = _checks.choice(method, "method", owner, _METHODS)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    p = np.asarray(pvalues, dtype=float).ravel()
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise InvalidInputError(f"The 'pvalues' parameter of {owner} must hold values in [0, 1]. Got {p.tolist()!r}.")
    adjusted = np.full(p.shape, np.nan)
    q = p[finite]
    m = q.size
    if m:
        if method == "bonferroni":
            adj = np.minimum(1.0, q * m)
        elif method == "holm":
            order = np.argsort(q, kind="stable")
            steps = np.maximum.accumulate((m - np.arange(m)) * q[order])
            adj = np.empty(m)
            adj[order] = np.minimum(1.0, steps)
        else:
            order = np.argsort(q, kind="stable")
            scaled = m * q[order] / np.arange(1, m + 1)
            steps = np.minimum.accumulate(scaled[::-1])[::-1]
            adj = np.empty(m)
            adj[order] = np.minimum(1.0, steps)
        adjusted[finite] = adj
    warnings: tuple[str, ...] = ()
    if not finite.all():
        missing = int((~finite).sum())
        warnings = (f"{missing} missing p-value{'s were' if missing > 1 else ' was'} left out of the family.",)
    return AdjustedPValues(
        method=method,
        alpha=alpha,
        pvalues=tuple(p.tolist()),
        adjusted=tuple(adjusted.tolist()),
        reject=tuple(bool(a < alpha) for a in adjusted),
        status="ok" if m else "insufficient_data",
        warnings=warnings if m else (*warnings, "no p-values to adjust."),
    )
