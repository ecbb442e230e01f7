"""The readout a manager acts on: a decision and a few plain sentences, every figure with its interval.

``Readout.from_result(result).summary()`` reads like::

    Treatment raised checkout conversion by +2.3% (95% CI +0.8% to +3.9%, p = 0.004, n = 10,120 control,
    10,034 treatment). Sample ratio OK. Guardrails OK. Recommendation: ship.

Recommendation logic, first match wins (all on the overall results, not on slices):

1. **investigate** — the sample-ratio check failed, a data-quality *error* was found (an empty arm; more than
   1% of units exposed to several variants or carrying unknown labels), or the primary metric could not be
   evaluated for any variant. Nothing else is trustworthy until that is explained.
2. **ship** — at least one treatment variant improved the primary metric significantly in its desired
   ``direction`` (after the multiple-testing correction; Bayesian: the credible interval excludes 0) and
   harmed no guardrail. With several such variants, the one with the largest improvement is named.
3. **don't ship** — every treatment variant either harmed a guardrail significantly (beyond its margin) or
   moved the primary metric significantly the wrong way.
4. **keep running** — otherwise (inconclusive): the summary gives the smallest lift the current sample can
   detect with 80% power (:func:`stats.mde`), so the reader can judge whether waiting is worthwhile.
"""

from __future__ import annotations

import dataclasses
import math

from assay.errors import InvalidInputError
from assay.experiments import stats
from assay.experiments.results import ExperimentResult, MetricResult
from assay.experiments.stats.results import ResultMixin, fmt_interval, fmt_lift, fmt_p

__all__ = ["Readout"]

DECISIONS = ("ship", "don't ship", "keep running", "investigate")


def _name(variant: str) -> str:
    return variant[:1].upper() + variant[1:]


def _detail(r: MetricResult) -> str:
    """``(95% CI +0.8% to +3.9%, p = 0.004, n = 1,000 control, 1,020 treatment)``."""
    res = r.result
    low, high = r.ci_low, r.ci_high
    counts = f"n = {r.control_stats.n:,} {r.control}, {r.treatment_stats.n:,} {r.variant}"
    if isinstance(res, stats.BayesianResult):
        ci = fmt_interval(low, high, r.alpha, r.relative, kind="credible interval")
        return f"({ci}, {res.chance_to_win:.1%} chance to beat {r.control}, {counts})"
    kind = "always-valid CI" if isinstance(res, stats.SequentialResult) else "CI"
    p = fmt_p(r.p_value)
    if math.isfinite(r.adjusted_p_value) and abs(r.adjusted_p_value - r.p_value) > 1e-12:
        p += f", adjusted {fmt_p(r.adjusted_p_value)}"
    return f"({fmt_interval(low, high, r.alpha, r.relative, kind=kind)}, {p}, {counts})"


def _effect_sentence(r: MetricResult, label: str) -> str:
    if r.status != "ok":
        reason = r.warnings[0].rstrip(".") if r.warnings else r.status.replace("_", " ")
        return f"{_name(r.variant)} could not be compared on {label}: {reason}."
    lift = fmt_lift(r.estimate, r.relative)
    if r.significant:
        verb = "raised" if r.estimate > 0 else "lowered"
        return f"{_name(r.variant)} {verb} {label} by {lift} {_detail(r)}."
    return f"{_name(r.variant)} changed {label} by {lift} {_detail(r)}, not statistically significant."


def _score(r: MetricResult) -> float:
    """Improvement in the metric's desired direction (for ranking variants)."""
    if r.status != "ok" or not math.isfinite(r.estimate):
        return -math.inf
    return r.estimate if r.direction == "increase" else -r.estimate


@dataclasses.dataclass(frozen=True)
class Readout(ResultMixin):
    """A decision on an experiment with the sentences that justify it (logic in the module docstring).

    ``variant`` is the variant to ship (decision ``ship``) or the leading one; ``reasons`` are short
    machine-friendly reasons, ``lines`` the sentences of :meth:`summary`; ``mde`` the smallest detectable
    lift at the current sample size when the test is inconclusive.

    Example::

        readout = Readout.from_result(analyze(experiment, sources=...))
        readout.decision, readout.variant          # ('ship', 'treatment')
        print(readout.summary())
    """

    experiment: str
    decision: str
    variant: str | None
    srm_ok: bool
    guardrails_ok: bool
    reasons: tuple[str, ...]
    lines: tuple[str, ...]
    mde: float | None

    @classmethod
    def from_result(cls, result: ExperimentResult) -> Readout:
        """Read the decision off an :class:`ExperimentResult`."""
        e = result.definition
        primary = {r.variant: r for r in result.primary}
        label = e.primary_metric.replace("_", " ")
        harmed = {v: [g for g in result.guardrails if g.variant == v and g.outcome == "harmed"] for v in primary}
        ranked = sorted(primary.values(), key=_score, reverse=True)
        lines = [_effect_sentence(r, label) for r in ranked]
        lines.append("Sample ratio OK." if result.srm.ok else f"{result.srm.summary()}")
        lines += _guardrail_lines(result)
        errors = [i for i in result.issues if i.severity == "error"]
        lines += [f"Data problem: {i.message}" for i in errors]
        reasons: list[str] = []
        variant: str | None = ranked[0].variant if ranked and _score(ranked[0]) > -math.inf else None
        mde = None
        blocking = (["sample ratio mismatch"] if not result.srm.ok else []) + [
            f"data quality: {i.kind}" for i in errors
        ]
        if not blocking and all(r.status != "ok" for r in primary.values()):
            blocking = ["primary metric could not be evaluated"]
        if blocking:
            decision, reasons = "investigate", blocking
        else:
            winners = [r for r in ranked if r.outcome == "improved" and not harmed[r.variant]]
            losers = [v for v, r in primary.items() if harmed[v] or r.outcome == "worsened"]
            if winners:
                decision, variant = "ship", winners[0].variant
                reasons = [f"{variant} improved {e.primary_metric} with no guardrail harmed"]
            elif len(losers) == len(primary):
                decision = "don't ship"
                reasons = [f"{v}: " + ("guardrail harmed" if harmed[v] else f"{e.primary_metric} worsened")
                           for v in losers]  # fmt: skip
            else:
                decision = "keep running"
                reasons = ["primary metric inconclusive"]
                mde, sentence = _mde(result, primary)
                if sentence:
                    lines.append(sentence)
        if decision == "ship" and len(primary) > 1:
            lines.append(f"Recommendation: ship {variant}.")
        else:
            lines.append(f"Recommendation: {decision}.")
        guard_ok = not any(harmed.values()) and all(g.status == "ok" for g in result.guardrails)
        return cls(result.experiment, decision, variant, result.srm.ok, guard_ok, tuple(reasons), tuple(lines), mde)

    def summary(self) -> str:
        return " ".join(self.lines)


def _guardrail_lines(result: ExperimentResult) -> list[str]:
    guards = result.guardrails
    if not guards:
        return ["No guardrail metrics."]
    out = []
    for g in guards:
        label = g.metric.replace("_", " ")
        if g.outcome == "harmed":
            out.append(
                f"Guardrail {label} harmed by {g.variant}: {fmt_lift(g.estimate, g.relative)} {_detail(g)}"
                + (f", beyond the {g.result.margin:.0%} margin." if getattr(g.result, "margin", 0) else ".")
            )
        elif g.status != "ok":
            reason = g.warnings[0].rstrip(".") if g.warnings else g.status
            out.append(f"Guardrail {label} could not be checked for {g.variant}: {reason}.")
    return out or ["Guardrails OK."]


def _mde(result: ExperimentResult, primary: dict[str, MetricResult]) -> tuple[float | None, str]:
    """Smallest lift detectable with 80% power at the current size of the smallest arm."""
    e = result.definition
    first = next(iter(primary.values()))
    n = min([first.control_stats.n, *(r.treatment_stats.n for r in primary.values())])
    correction = "bonferroni" if e.multiple_testing != "none" and len(e.variants) > 2 else "none"
    try:
        r = stats.mde(max(n, 2), baseline=first.control_stats, relative=e.relative, alpha=e.alpha,
                      variants=len(e.variants), correction=correction)  # fmt: skip
    except InvalidInputError:
        return None, ""
    if r.status != "ok" or not math.isfinite(r.mde):
        return None, ""
    size = fmt_lift(r.mde, e.relative).lstrip("+")
    return r.mde, (
        f"Inconclusive so far: with {n:,} units per arm this test detects a change of ±{size} "
        f"in {e.primary_metric.replace('_', ' ')} with 80% power; smaller true effects need more units."
    )
