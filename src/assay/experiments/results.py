"""Result objects of an experiment analysis: one :class:`MetricResult` per metric × variant (× slice),
typed :class:`DataQualityIssue` messages, and the :class:`ExperimentResult` that holds them all.

Every object has ``summary()`` (plain text), ``to_dict()`` (JSON-safe) and ``_repr_html_()``;
:meth:`ExperimentResult.to_frame` gives a tidy pandas DataFrame, one row per comparison.
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import TYPE_CHECKING, Any

from assay.errors import NotFoundError
from assay.experiments.definition import Experiment
from assay.experiments.stats import (
    BayesianResult,
    CupedRatioStats,
    CupedResult,
    CupedStats,
    MarginResult,
    MeanStats,
    RatioStats,
    SequentialResult,
    SrmResult,
    TestResult,
)
from assay.experiments.stats.results import ResultMixin, fmt_p
from assay.results import json_safe

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DataQualityIssue", "ExperimentResult", "MetricResult"]

AnyStats = MeanStats | RatioStats | CupedStats | CupedRatioStats
AnyResult = TestResult | CupedResult | SequentialResult | BayesianResult | MarginResult


@dataclasses.dataclass(frozen=True)
class DataQualityIssue(ResultMixin):
    """A problem found in the data: ``kind`` is ``multiple_variants``, ``unknown_variant`` or ``empty_arm``.

    ``severity`` is ``error`` when the results should not be trusted as they are (an empty arm, or more than
    1% of units affected), else ``warning``; ``count`` is the number of units concerned and ``labels`` the
    variant labels involved.
    """

    kind: str
    severity: str
    message: str
    count: int = 0
    labels: tuple[str, ...] = ()

    def summary(self) -> str:
        return self.message


def comparison_of(result: AnyResult) -> TestResult | SequentialResult | BayesianResult:
    """The comparison inside a result: the adjusted test of CUPED, the one-sided test of a guardrail."""
    if isinstance(result, CupedResult):
        return result.adjusted
    if isinstance(result, MarginResult):
        return result.test
    return result


def interval(result: AnyResult) -> tuple[float, float, float]:
    """``(estimate, ci_low, ci_high)`` of any stats result (a guardrail's one-sided test interval)."""
    if isinstance(result, MarginResult):
        return result.test.estimate, result.test.ci_low, result.test.ci_high
    return result.estimate, result.ci_low, result.ci_high


@dataclasses.dataclass(frozen=True)
class MetricResult(ResultMixin):
    """One metric compared between one treatment variant and control, overall or within one slice.

    ``result`` is the stats object that did the work (its own summary, interval and warnings);
    ``adjusted_p_value`` is the p-value after the multiple-testing correction of its family (``nan`` for
    Bayesian results); ``significant`` uses it (Bayesian: the credible interval excludes 0; guardrails:
    the harm test rejected). ``outcome`` is ``improved``/``worsened``/``inconclusive`` (guardrails:
    ``ok``/``harmed``) or ``undefined`` when the data could not decide (see ``status`` and ``warnings``).
    """

    metric: str
    variant: str
    control: str
    kind: str
    role: str
    direction: str
    slice: tuple[str, str] | None
    control_stats: AnyStats
    treatment_stats: AnyStats
    result: AnyResult
    p_value: float
    adjusted_p_value: float
    significant: bool
    outcome: str
    relative: bool
    alpha: float
    status: str
    warnings: tuple[str, ...]

    @property
    def is_primary(self) -> bool:
        return self.role == "primary"

    @property
    def is_guardrail(self) -> bool:
        return self.role == "guardrail"

    @property
    def estimate(self) -> float:
        return interval(self.result)[0]

    @property
    def ci_low(self) -> float:
        return interval(self.result)[1]

    @property
    def ci_high(self) -> float:
        return interval(self.result)[2]

    @property
    def method(self) -> str:
        return comparison_of(self.result).method

    def summary(self) -> str:
        where = f" [{self.slice[0]} = {self.slice[1]}]" if self.slice else ""
        text = f"{self.metric} ({self.role}), {self.variant} vs {self.control}{where}: {self.result.summary()}"
        adjusted = self.adjusted_p_value
        if math.isfinite(adjusted) and math.isfinite(self.p_value) and abs(adjusted - self.p_value) > 1e-12:
            text += f" Adjusted for multiple testing: {fmt_p(adjusted)}."
        return text


@dataclasses.dataclass(frozen=True)
class ExperimentResult(ResultMixin):
    """Everything :func:`assay.experiments.analyze` found.

    ``counts`` are analysed units per variant (after excluding units that saw several variants),
    ``srm`` the sample-ratio check on them, ``results`` the comparisons (overall ones first, then slices),
    ``issues`` the data-quality findings, ``sql`` the query that ran, ``timings`` seconds per step and
    ``as_of`` the cut-off applied (the earlier of the experiment's ``end`` and ``analyze(as_of=)``), if any.
    """

    experiment: str
    variants: tuple[str, ...]
    control: str
    method: str
    alpha: float
    multiple_testing: str
    counts: dict[str, int]
    srm: SrmResult
    results: tuple[MetricResult, ...]
    issues: tuple[DataQualityIssue, ...]
    sql: str
    timings: dict[str, float]
    as_of: str | None
    definition: Experiment

    @property
    def overall(self) -> tuple[MetricResult, ...]:
        """Comparisons over all units (no slice)."""
        return tuple(r for r in self.results if r.slice is None)

    @property
    def primary(self) -> tuple[MetricResult, ...]:
        """The primary metric's overall comparison for each treatment variant."""
        return tuple(r for r in self.overall if r.is_primary)

    @property
    def guardrails(self) -> tuple[MetricResult, ...]:
        return tuple(r for r in self.overall if r.is_guardrail)

    def result(self, metric: str, variant: str | None = None, slice: tuple[str, str] | None = None) -> MetricResult:
        """The comparison for ``metric`` (and ``variant``, default the first treatment; and ``slice``)."""
        variant = variant or next(v for v in self.variants if v != self.control)
        for r in self.results:
            if r.metric == metric and r.variant == variant and r.slice == (tuple(slice) if slice else None):
                return r
        known = sorted({r.metric for r in self.results})
        raise NotFoundError(f"No result for metric {metric!r}, variant {variant!r}, slice {slice!r}. Metrics: {known}.")

    def summary(self) -> str:
        arms = ", ".join(f"{v} {self.counts.get(v, 0):,}" for v in self.variants)
        method = {"fixed": "fixed-horizon", "sequential": "sequential (always valid)", "bayesian": "Bayesian"}
        correction = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}[self.multiple_testing]
        lines = [
            f"Experiment {self.experiment}: {method[self.method]} analysis, alpha = {self.alpha:g}, "
            f"{correction} multiple-testing correction.",
            f"Units analysed: {arms}. {self.srm.summary()}",
        ]
        lines += [f"Data quality ({i.severity}): {i.message}" for i in self.issues]
        lines += [f"- {r.summary()}" for r in self.overall]
        sliced = len(self.results) - len(self.overall)
        if sliced:
            lines.append(f"({sliced} slice results by {', '.join(self.definition.dimensions)}: see to_frame()).")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "definition"}
        out["definition"] = self.definition.to_dict()
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per comparison: metric, variant, slice, role, counts, means, lift, interval, p-values, outcome."""
        import pandas as pd

        rows = []
        for r in self.results:
            inner = comparison_of(r.result)
            rows.append(
                {
                    "metric": r.metric,
                    "variant": r.variant,
                    "dimension": r.slice[0] if r.slice else None,
                    "slice": r.slice[1] if r.slice else None,
                    "role": r.role,
                    "kind": r.kind,
                    "control_n": r.control_stats.n,
                    "treatment_n": r.treatment_stats.n,
                    "control_mean": inner.control_mean,
                    "treatment_mean": inner.treatment_mean,
                    "estimate": r.estimate,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_value": r.p_value,
                    "adjusted_p_value": r.adjusted_p_value,
                    "significant": r.significant,
                    "outcome": r.outcome,
                    "method": r.method,
                    "status": r.status,
                }
            )
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<p>{esc(line)}</p>" for line in self.summary().splitlines()[:2])
        issues = "".join(f"<li>{esc(i.severity)}: {esc(i.message)}</li>" for i in self.issues)
        cols = ("metric", "role", "variant", "lift", "interval", "p", "adjusted p", "outcome", "n")
        body = []
        for r in self.overall:
            pct = r.relative and r.status == "ok"
            fmt = (lambda v: f"{v * 100:+.2f}%") if pct else (lambda v: f"{v:+.4g}")
            lift = fmt(r.estimate) if math.isfinite(r.estimate) else "n/a"
            lo, hi = (fmt(v) if math.isfinite(v) else ("-∞" if v < 0 else "+∞") for v in (r.ci_low, r.ci_high))
            cells = (r.metric, r.role, r.variant, lift, f"{lo} to {hi}" if r.status == "ok" else "n/a",
                     _p(r.p_value), _p(r.adjusted_p_value), r.outcome,
                     f"{r.control_stats.n:,} / {r.treatment_stats.n:,}")  # fmt: skip
            body.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
        table = "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>" + "".join(body)
        return (
            f"<div class='assay-result'><p><strong>ExperimentResult</strong></p>{head}"
            + (f"<ul>{issues}</ul>" if issues else "")
            + f"<table>{table}</table></div>"
        )


def _p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")
