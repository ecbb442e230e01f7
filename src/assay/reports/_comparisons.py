"""Stored comparisons of an analysis as objects the reports read: one per metric × variant (overall or per slice).

Each joins the queryable metric row (estimate and interval, ±inf kept for one-sided bounds) with the stats
stored in the analysis JSON (counts, means, standard error, outcome), so every sentence quotes stored numbers.
"""

from __future__ import annotations

import math
from typing import Any

from assay.errors import InvalidInputError
from assay.experiments import stats
from assay.reports.words import finite, interval_words, lift, pct

__all__ = ["Comparison", "comparisons", "label", "mean_text", "power_sentence"]

ROLE_ORDER = {"primary": 0, "guardrail": 1, "secondary": 2}


def _inner(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison inside a stored stats result: CUPED's adjusted test, a guardrail's one-sided test."""
    for key in ("adjusted", "test"):
        if isinstance(result.get(key), dict):
            return result[key]
    return result


def label(metric: str) -> str:
    return metric.replace("_", " ")


def mean_text(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return pct(value, sign=False) if kind == "proportion" else f"{value:,.4g}"


class Comparison:
    """One overall comparison: the stored metric row joined with its stats from the result JSON."""

    def __init__(self, row: dict[str, Any], detail: dict[str, Any]) -> None:
        self.metric: str = row["metric"]
        self.variant: str = row["variant"]
        self.role: str = row["role"]
        self.slice: str | None = row["slice"]
        self.relative: bool = bool(row["relative"])
        self.estimate = finite(row["estimate"])
        self.low = finite(row["ci_low"])
        self.high = finite(row["ci_high"])
        self.p = (
            finite(row["adjusted_p_value"]) if finite(row["adjusted_p_value"]) is not None else finite(row["p_value"])
        )
        self.status: str = row["status"]
        self.kind: str = detail.get("kind", "mean")
        self.direction: str = detail.get("direction", "increase")
        self.outcome: str = detail.get("outcome", "undefined")
        self.alpha: float = float(detail.get("alpha") or 0.05)
        self.warnings: list[str] = list(detail.get("warnings") or [])
        inner = _inner(detail.get("result") or {})
        self.se = finite(inner.get("se"))
        self.chance = finite(inner.get("chance_to_win"))
        self.control_mean = finite(inner.get("control_mean"))
        self.treatment_mean = finite(inner.get("treatment_mean"))
        self.control_stats: dict[str, Any] = detail.get("control_stats") or {}
        self.n_control = int(self.control_stats.get("n") or 0)
        self.n_treatment = int((detail.get("treatment_stats") or {}).get("n") or 0)
        self.margin = finite((detail.get("result") or {}).get("margin"))

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.estimate is not None

    @property
    def score(self) -> float:
        if not self.ok:
            return -math.inf
        return self.estimate if self.direction == "increase" else -self.estimate  # type: ignore[operator]

    def words(self) -> str:
        if not self.ok:
            reason = self.warnings[0].rstrip(".") if self.warnings else self.status.replace("_", " ")
            return f"could not be measured ({reason})"
        return interval_words(self.estimate, self.low, self.high, self.relative)  # type: ignore[arg-type]

    def verdict(self) -> tuple[str, str]:
        return {
            "improved": ("improved (statistically significant)", "good"),
            "worsened": ("worsened (statistically significant)", "bad"),
            "inconclusive": ("no clear change", "neutral"),
            "ok": ("no harm detected", "good"),
            "harmed": ("harmed beyond its margin", "bad"),
        }.get(self.outcome, ("not measurable", "warn"))


def comparisons(analysis: dict[str, Any], *, slices: bool = False) -> list[Comparison]:
    result = analysis["result"] or {}
    details = {(d["metric"], d["variant"], _slice(d.get("slice"))): d for d in result.get("results") or []}
    rows = [
        Comparison(m, details.get((m["metric"], m["variant"], m["slice"]), {}))
        for m in analysis["metrics"]
        if (m["slice"] is not None) == slices
    ]
    return sorted(rows, key=lambda r: (ROLE_ORDER.get(r.role, 3), r.metric, r.variant, r.slice or ""))


def _slice(value: Any) -> str | None:
    """A stored slice ``["country", "DE"]`` as the metric row writes it: ``country=DE``."""
    if not value:
        return None
    return f"{value[0]}={value[1]}"


def power_sentence(lead: Comparison) -> str:
    """Whether the inconclusive primary metric really moved: the MDE at the current size (80% power)."""
    cs = lead.control_stats
    n = min(lead.n_control, lead.n_treatment)
    try:
        mean = lead.control_mean
        sd = None
        if lead.kind == "mean" and cs.get("n", 0) > 1:
            var = (cs["sum_squares"] - cs["sum"] ** 2 / cs["n"]) / (cs["n"] - 1)
            sd = math.sqrt(max(var, 0.0))
        if mean is None or lead.kind == "ratio" or n < 2:
            raise InvalidInputError("no baseline")
        r = stats.mde(n, mean=mean, sd=sd, relative=lead.relative, alpha=lead.alpha)
        if r.status != "ok" or not math.isfinite(r.mde):
            raise InvalidInputError("no mde")
    except (InvalidInputError, KeyError, ZeroDivisionError, TypeError):
        return (
            f"Whether {label(lead.metric)} really moved: the interval still includes no change; "
            "more units would narrow it."
        )
    return (
        f"Whether {label(lead.metric)} really moved: with {n:,} units per arm this test reliably detects "
        f"changes of about ±{lift(r.mde, lead.relative).lstrip('+')} (80% power); smaller true effects need "
        "more units, roughly four times as many to halve that."
    )
