"""One-sided tests against a margin: non-inferiority (prove "not worse by more than δ") and guardrails
(detect "worse by more than δ").

Both shift the null hypothesis of the Welch t-test by the margin (Schuirmann 1987; FDA 2016 guidance
"Non-Inferiority Clinical Trials to Establish Effectiveness"). With ``higher_is_better=True`` and lift Δ:

* non-inferiority: H0 ``Δ ≤ −δ`` vs H1 ``Δ > −δ``; passes when p < alpha, i.e. the one-sided
  ``1 − alpha`` lower bound is above ``−δ``. The burden of proof is on the treatment.
* guardrail: H0 ``Δ ≥ −δ`` vs H1 ``Δ < −δ``; fails when p < alpha, i.e. the harm is significant.
  The burden of proof is on the harm (``δ = 0`` is a plain one-sided test for deterioration).

With ``higher_is_better=False`` (latency, churn, cost) the directions flip. Margins are in lift units: a
fraction of the control mean when ``relative=True`` (0.02 is 2%), metric units otherwise.
CUPED statistics are tested on their adjusted values.
"""

from __future__ import annotations

import dataclasses

from assay.experiments.stats import _checks
from assay.experiments.stats._arms import AnyStats, pair_for
from assay.experiments.stats.frequentist import TestResult, compare
from assay.experiments.stats.results import ResultMixin, Status, fmt_interval, fmt_lift, fmt_p, problem_sentence

__all__ = ["MarginResult", "guardrail_ttest", "noninferiority_ttest"]


@dataclasses.dataclass(frozen=True)
class MarginResult(ResultMixin):
    """A non-inferiority or guardrail verdict; ``passed`` is ``None`` when the data cannot decide."""

    kind: str  # "noninferiority" | "guardrail"
    passed: bool | None
    margin: float
    higher_is_better: bool
    test: TestResult
    status: Status
    warnings: tuple[str, ...]

    @property
    def estimate(self) -> float:
        return self.test.estimate

    @property
    def p_value(self) -> float:
        return self.test.p_value

    def summary(self) -> str:
        t = self.test
        if self.status != "ok":
            return f"{problem_sentence(self.status, self.warnings)}."
        bound = fmt_lift(t.null_value, t.relative)
        detail = f"{fmt_lift(t.estimate, t.relative)}, {fmt_interval(t.ci_low, t.ci_high, t.alpha, t.relative)}"
        side = "above" if self.higher_is_better else "below"
        p = fmt_p(t.p_value)
        if self.kind == "noninferiority":
            if self.passed:
                return f"Treatment is non-inferior to control: {detail}, stays {side} the {bound} margin ({p})."
            return f"Non-inferiority not shown: {detail}, does not clear the {bound} margin ({p})."
        beyond = f" beyond the {bound} margin" if self.margin else ""
        if self.passed:
            return f"Guardrail OK: no significant harm{beyond} ({detail}, {p})."
        return f"Guardrail failed: treatment is significantly worse than control{beyond} ({detail}, {p})."


def _margin_test(
    kind: str, control: AnyStats, treatment: AnyStats, margin: float, relative: bool, higher_is_better: bool,
    alpha: float, owner: str,
) -> MarginResult:  # fmt: skip
    relative = _checks.flag(relative, "relative", owner)
    higher_is_better = _checks.flag(higher_is_better, "higher_is_better", owner)
    alpha = _checks.open_unit(alpha, "alpha", owner)
    pair = pair_for(control, treatment, owner)
    null = -margin if higher_is_better else margin
    if kind == "noninferiority":
        alternative = "greater" if higher_is_better else "less"
    else:
        alternative = "less" if higher_is_better else "greater"
    test = compare(
        pair.control, pair.treatment, relative=relative, alternative=alternative, alpha=alpha,
        method=f"{kind}_{pair.kind}_welch_t", null_value=null, warnings=pair.warnings,
    )  # fmt: skip
    passed = None
    if test.status == "ok":
        passed = test.significant if kind == "noninferiority" else not test.significant
    return MarginResult(kind, passed, margin, higher_is_better, test, test.status, test.warnings)


def noninferiority_ttest(
    control: AnyStats,
    treatment: AnyStats,
    *,
    margin: float,
    relative: bool = True,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> MarginResult:
    """Test that treatment is not worse than control by more than ``margin`` (one-sided, see module doc).

    Accepts :class:`MeanStats`, :class:`RatioStats`, :class:`CupedStats` or :class:`CupedRatioStats`.

    Example::

        >>> c, t = MeanStats(1000, 100.0, 100.0), MeanStats(1000, 99.0, 99.0)   # 10.0% vs 9.9% conversion
        >>> noninferiority_ttest(c, t, margin=0.5).passed    # within 50% relative: yes
        True
    """
    margin = _checks.positive(margin, "margin", "noninferiority_ttest")
    return _margin_test(
        "noninferiority", control, treatment, margin, relative, higher_is_better, alpha, "noninferiority_ttest"
    )


def guardrail_ttest(
    control: AnyStats,
    treatment: AnyStats,
    *,
    margin: float = 0.0,
    relative: bool = True,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> MarginResult:
    """Check a guardrail: fail only when treatment is significantly worse than control by more than ``margin``.

    Example::

        >>> c, t = MeanStats(5000, 500.0, 500.0), MeanStats(5000, 400.0, 400.0)   # 10% vs 8%
        >>> guardrail_ttest(c, t, margin=0.05).passed
        False
    """
    margin = _checks.non_negative(margin, "margin", "guardrail_ttest")
    return _margin_test("guardrail", control, treatment, margin, relative, higher_is_better, alpha, "guardrail_ttest")
