"""The executive report of one experiment, read from its latest stored analysis.

The decision comes first and is the stored readout's (:class:`assay.experiments.Readout`): *ship*, *don't
ship*, *keep running* (inconclusive so far) or *inconclusive* (the readout said *investigate*: a sample-ratio
mismatch or a data problem makes the numbers untrustworthy). Then the primary effect in words with its
interval, the projected revenue impact with its interval and assumptions (:mod:`assay.reports.impact`), a
forest plot of every metric's lift, the risks (sample ratio, guardrails, data quality, repeated looks, and
for variants serving a registered model its fairness, drift and open incidents) and what is still unknown.

Example::

    report = experiment_report("checkout-v2", baseline_revenue=12_000_000)
    report.verdict                       # 'ship'
    report.write_pdf("checkout-v2.pdf")
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default
from assay.errors import InvalidInputError
from assay.experiments.persist import load_experiment
from assay.reports._comparisons import Comparison, comparisons, label, mean_text, power_sentence
from assay.reports._evidence import Finding, model_evidence
from assay.reports.document import Bullets, Forest, ForestRow, KeyFigure, Paragraph, Report, Section, Table
from assay.reports.impact import BusinessInputs, Impact, project_impact
from assay.reports.words import DECISION_LABELS, chance, date_ms, finite, interval_words, lift, money, title_case

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["experiment_report"]

VERDICTS = {"ship": "ship", "don't ship": "don't ship", "keep running": "keep running", "investigate": "inconclusive"}


def experiment_report(
    name: str,
    client: Client | None = None,
    *,
    baseline_revenue: float | None = None,
    currency: str = "$",
    exposed_share: float = 1.0,
    horizon_years: float = 1.0,
    inputs: BusinessInputs | None = None,
) -> Report:
    """Build the executive report of experiment ``name`` from its latest stored analysis.

    ``baseline_revenue`` (yearly revenue that moves with the primary metric), ``exposed_share`` and
    ``horizon_years`` turn the lift into projected money (or pass ``inputs``); without a baseline the
    report says the impact was not projected. Raises :class:`~assay.errors.NotFoundError` for an unknown
    experiment.

    Example::

        experiment_report("checkout-v2", baseline_revenue=12e6, currency="€").write_html("checkout.html")
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"The 'name' parameter of experiment_report must be an experiment name. Got {name!r}.")
    inputs = inputs or BusinessInputs(baseline_revenue, currency, exposed_share, horizon_years)
    c = client_or_default(client)
    exp = load_experiment(name, c, analyses=5)
    definition = exp["definition"] or {}
    title = f"Experiment {name}" + (f": {definition['description']}" if definition.get("description") else "")
    if not exp["latest_analyses"]:
        return Report(
            "experiment",
            title,
            f"Status {exp['status']}; no analysis stored.",
            "No readout yet",
            "no readout",
            f"Experiment {name} has no stored analysis, so there is nothing to decide yet. Analyse it with "
            f"`assay exp analyze` (or assay.experiments.save_result).",
            "neutral",
            (),
            (),
            {"experiment": name, "decision": None},
        )
    analysis = exp["latest_analyses"][0]
    rows = comparisons(analysis)
    result = analysis["result"] or {}
    primary = sorted((r for r in rows if r.role == "primary"), key=lambda r: r.score, reverse=True)
    harmed = {r.variant for r in rows if r.role == "guardrail" and r.outcome == "harmed"}
    decision = analysis["decision"] or "keep running"
    lead = primary[0] if primary else None
    if decision == "ship":
        lead = next((r for r in primary if r.outcome == "improved" and r.variant not in harmed), lead)
    verdict_label, tone = DECISION_LABELS.get(decision, (title_case(decision), "neutral"))
    if decision == "ship" and lead is not None:
        verdict_label = f"Ship {lead.variant}"
    counts: dict[str, int] = result.get("counts") or {}
    control = result.get("control") or definition.get("control") or "control"
    metric = definition.get("primary_metric") or (lead.metric if lead else "the primary metric")
    impact = _impact(lead, inputs) if lead is not None and decision != "investigate" else None

    headline = _headline(decision, lead, metric, control, rows, result)
    sections = [
        _effect_section(primary, rows, metric, control),
        _impact_section(impact, lead, inputs),
        _risk_section(c, exp, analysis, rows, result),
        _unknown_section(definition, rows, lead, impact, result, exp),
        _method_section(definition, result, analysis, exp, counts),
    ]
    segments = _segment_section(analysis, metric)
    if segments is not None:
        sections.insert(1, segments)
    figures = [KeyFigure("Decision", verdict_label)]
    if lead is not None and lead.ok:
        figures[0] = KeyFigure(
            f"{label(metric)} ({lead.variant} vs {control})",
            lift(lead.estimate, lead.relative),
            interval_words(lead.estimate, lead.low, lead.high, lead.relative).split(", most")[0] + " (95% CI)",
        )
    if impact is not None and impact.status == "ok":
        figures.append(
            KeyFigure(
                f"Projected revenue {impact.period}",
                money(impact.estimate, inputs.currency),
                f"between {money(_or_nan(impact.low), inputs.currency)} and "
                f"{money(_or_nan(impact.high), inputs.currency)}",
            )
        )
    total = sum(counts.values())
    figures.append(KeyFigure("Units analysed", f"{total:,}", ", ".join(f"{v}: {n:,}" for v, n in counts.items())))
    status = exp["status"]
    subtitle = (
        f"Status {status}; analysed {date_ms(analysis['ts_ms'])} by {analysis['actor']} "
        f"(analysis #{analysis['id']} of {exp['analyses']} stored)."
    )
    facts = {
        "experiment": name,
        "analysis_id": analysis["id"],
        "decision": decision,
        "variant": lead.variant if lead else None,
        "metric": metric,
        "estimate": lead.estimate if lead else None,
        "ci_low": lead.low if lead else None,
        "ci_high": lead.high if lead else None,
        "relative": lead.relative if lead else None,
        "srm_p_value": analysis["srm_p_value"],
        "impact": impact.to_dict() if impact is not None else None,
        "counts": counts,
    }
    return Report(
        "experiment",
        title,
        subtitle,
        verdict_label,
        VERDICTS.get(decision, decision),
        headline,
        tone,
        tuple(figures),
        tuple(sections),
        facts,
    )


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _impact(lead: Comparison, inputs: BusinessInputs) -> Impact:
    return project_impact(
        lead.estimate if lead.ok else math.nan,
        lead.low,
        lead.high,
        inputs,
        metric=label(lead.metric),
        direction=lead.direction,
        relative=lead.relative,
        control_mean=lead.control_mean,
        se=lead.se,
        chance_to_win=lead.chance,
    )


def _headline(
    decision: str, lead: Comparison | None, metric: str, control: str, rows: list[Comparison], result: dict
) -> str:
    if lead is None:
        return f"The primary metric {label(metric)} has no stored result."
    effect = (
        f"{title_case(lead.variant)} vs {control}, {label(metric)}: {lead.words()} "
        f"(95% interval; {lead.n_control:,} vs {lead.n_treatment:,} units)."
    )
    if decision == "ship":
        return effect + " The improvement is statistically significant and no guardrail was harmed."
    if decision == "don't ship":
        bad = [r for r in rows if r.outcome in ("harmed", "worsened") and r.role in ("guardrail", "primary")]
        what = "; ".join(f"{label(r.metric)} {r.verdict()[0]} ({r.variant})" for r in bad) or "no variant helped"
        return effect + f" It should not ship: {what}."
    if decision == "keep running":
        return effect + " The interval still includes no effect: too uncertain to call yet."
    srm = result.get("srm") or {}
    why = (
        "the traffic split does not match the design (sample ratio mismatch)"
        if srm.get("ok") is False
        else ("a data problem was found")
    )
    return effect + f" These numbers cannot be trusted yet: {why}. Investigate before deciding."


def _effect_section(primary: list[Comparison], rows: list[Comparison], metric: str, control: str) -> Section:
    blocks: list[Any] = []
    for r in primary:
        text = f"{title_case(r.variant)} vs {control}: {label(metric)} {r.words()}."
        if r.control_mean is not None and r.treatment_mean is not None:
            text += (
                f" Average per unit: {mean_text(r.control_mean, r.kind)} in {control}, "
                f"{mean_text(r.treatment_mean, r.kind)} in {r.variant}."
            )
        blocks.append(Paragraph(text, r.verdict()[1] if r.outcome in ("improved", "worsened") else "neutral"))
    forest = tuple(
        ForestRow(
            f"{label(r.metric)}" + (f" ({r.variant})" if len(primary) > 1 else "") + f" [{r.role}]",
            r.estimate,
            r.low,
            r.high,
            r.verdict()[1],
        )  # type: ignore[arg-type]
        for r in rows
        if r.ok
    )
    if forest:
        relative = all(r.relative for r in rows if r.ok)
        blocks.append(
            Forest(
                "Change vs control, every metric (95% intervals)",
                forest,
                percent=relative,
                caption="Diamonds: most likely change; whiskers: 95% interval; dashed line: no change. "
                "Guardrail intervals are one-sided (open end).",
            )
        )
    table = tuple(
        (label(r.metric), r.role, r.variant, r.words(), r.verdict()[0], f"{r.n_control:,} / {r.n_treatment:,}")
        for r in rows
    )
    blocks.append(
        Table(("metric", "role", "variant", "change (95% interval)", "verdict", "n control / treatment"), table)
    )
    return Section("The effect", tuple(blocks))


def _segment_section(analysis: dict[str, Any], metric: str) -> Section | None:
    """The primary metric within each segment: exploratory, never the decision."""
    sliced = [r for r in comparisons(analysis, slices=True) if r.metric == metric]
    if not sliced:
        return None
    rows = tuple(
        (r.slice or "", r.variant, r.words(), r.verdict()[0], f"{r.n_control:,} / {r.n_treatment:,}") for r in sliced
    )
    forest = tuple(
        ForestRow(f"{r.slice} ({r.variant})", r.estimate, r.low, r.high, r.verdict()[1])  # type: ignore[arg-type]
        for r in sliced
        if r.ok
    )
    blocks: list[Any] = [
        Paragraph(
            f"{label(metric).capitalize()} within each segment. Exploratory: segments are smaller, so their intervals "
            "are wider, and looking at many of them finds differences by chance; the decision rests on the overall "
            "result."
        )
    ]
    if forest:
        blocks.append(Forest(f"{label(metric)} by segment (95% intervals)", forest, percent=sliced[0].relative))
    blocks.append(Table(("segment", "variant", "change (95% interval)", "verdict", "n control / treatment"), rows))
    return Section("By segment (exploratory)", tuple(blocks))


def _impact_section(impact: Impact | None, lead: Comparison | None, inputs: BusinessInputs) -> Section:
    if lead is None:
        return Section("Projected business impact", (Paragraph("No primary result to project from."),))
    if impact is None:
        text = "Not projected: the numbers cannot be trusted until the data problem under Risks is explained."
        return Section("Projected business impact", (Paragraph(text, "warn"),))
    blocks: list[Any] = [Paragraph(impact.summary(), "neutral")]
    if impact.status == "ok":
        cur = inputs.currency
        if impact.low is not None and impact.high is not None:
            span = f"between {money(impact.low, cur)} and {money(impact.high, cur)}"
        else:
            span = "in an open range"
        blocks.append(
            Paragraph(
                f"In words: if {lead.variant} ships, revenue {impact.period} is expected to change by "
                f"{money(impact.estimate, cur)}, and plausibly by anything {span} (95% interval)."
            )
        )
        blocks.append(Bullets(impact.assumptions))
    return Section("Projected business impact", tuple(blocks))


def _risk_section(c: Client, exp: dict, analysis: dict, rows: list[Comparison], result: dict) -> Section:
    findings: list[Finding] = []
    srm = result.get("srm") or {}
    p = finite(analysis.get("srm_p_value"))
    p_text = "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")
    if srm.get("ok") is False:
        findings.append(
            Finding(
                f"Sample ratio mismatch: the traffic split differs from the design (p = {p_text}); "
                "assignment or logging is broken, so every number here is suspect.",
                "bad",
            )
        )
    else:
        findings.append(Finding(f"Traffic split matches the design (sample-ratio check p = {p_text}).", "good"))
    guards = [r for r in rows if r.role == "guardrail"]
    for g in guards:
        verdict, tone = g.verdict()
        margin = f" (allowed margin {g.margin:.0%})" if g.margin else ""
        findings.append(
            Finding(f"Guardrail {label(g.metric)} ({g.variant}): {verdict}{margin}; change {g.words()}.", tone)
        )
    if not guards:
        findings.append(Finding("No guardrail metric was defined: harm to other metrics was not checked.", "warn"))
    for issue in result.get("issues") or []:
        findings.append(
            Finding(
                f"Data quality ({issue.get('severity')}): {issue.get('message')}",
                "bad" if issue.get("severity") == "error" else "warn",
            )
        )
    if (result.get("method") or "fixed") == "fixed" and exp["analyses"] > 1:
        findings.append(
            Finding(
                f"The experiment was analysed {exp['analyses']} times with a fixed-horizon test: "
                "repeated looks raise the false-positive rate (use method: sequential to peek "
                "safely).",
                "warn",
            )
        )
    for v in exp["variants"]:
        if v.get("model"):
            mname, version = v["model"][len("models:/") :].rsplit("/", 1)
            ev = model_evidence(c, mname, int(version))
            findings += [Finding(f"{v['name']} serves {mname} v{version}. " + f.text, f.tone) for f in ev.risks]
            findings += [Finding(u, "warn") for u in ev.unknowns if "fairness" in u]
    return Section("Risks", (Bullets(tuple(f.text for f in findings), tuple(f.tone for f in findings)),))


def _unknown_section(
    definition: dict, rows: list[Comparison], lead: Comparison | None, impact: Impact | None, result: dict, exp: dict
) -> Section:
    items: list[str] = []
    windows = {
        label(m): (spec.get("window") or {}).get("end")
        for m, spec in (definition.get("metrics") or {}).items()
        if isinstance(spec, dict)
    }
    ends = sorted({w for w in windows.values() if w})
    if ends:
        items.append(
            f"Long-term effect: metrics are measured within {', '.join(ends)} of first exposure; whether "
            "the effect lasts, fades or grows beyond that is not measured."
        )
    if lead is not None and lead.outcome == "inconclusive":
        items.append(power_sentence(lead))
    unclear = [r for r in rows if r.role == "secondary" and r.outcome == "inconclusive"]
    if unclear:
        items.append(
            "No clear change in "
            + ", ".join(sorted({label(r.metric) for r in unclear}))
            + ": their true effects may be small either way."
        )
    dims = definition.get("dimensions") or []
    if dims:
        items.append(
            f"Segments ({', '.join(dims)}): the overall result is the decision; differences between segments "
            "are exploratory and need their own test before acting on them."
        )
    if impact is not None and impact.status == "no_baseline":
        items.append(
            "Revenue impact: not projected because no baseline revenue was stated "
            "(--baseline-revenue / baseline_revenue=)."
        )
    if impact is not None and impact.probability_positive is not None:
        items.append(
            f"Chance the true effect on {impact.metric} is in the desired direction: "
            f"{chance(impact.probability_positive)} (normal approximation, flat prior)."
        )
    if exp["status"] not in ("concluded", "stopped"):
        items.append(f"The experiment is still {exp['status']}: later data may move these numbers.")
    return Section("What is still unknown", (Bullets(tuple(items)),))


def _method_section(definition: dict, result: dict, analysis: dict, exp: dict, counts: dict[str, int]) -> Section:
    method = {
        "fixed": "fixed-horizon t-test",
        "sequential": "sequential (always-valid) test",
        "bayesian": "Bayesian analysis",
    }.get(result.get("method", "fixed"), str(result.get("method")))
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}.get(result.get("multiple_testing"), "no")
    cuped = " with CUPED variance reduction (pre-period data)" if definition.get("cuped") else ""
    weights = definition.get("weights")
    split = (
        " / ".join(f"{v} {w:.0%}" for v, w in zip(definition.get("variants") or [], weights, strict=False))
        if weights
        else "equal split"
    )
    lines = [
        f"Method: {method}{cuped}, alpha {result.get('alpha', 0.05):g}, {correction} correction for multiple testing.",
        f"Design: {split}; primary metric {label(definition.get('primary_metric', '?'))}.",
        "Units: " + ", ".join(f"{v} {n:,}" for v, n in counts.items()) + ".",
        f"Analysis #{analysis['id']} on {date_ms(analysis['ts_ms'])} by {analysis['actor']}"
        + (f", data up to {result['as_of']}" if result.get("as_of") else "")
        + ".",
    ]
    blocks: list[Any] = [Bullets(tuple(lines))]
    if analysis.get("summary"):
        blocks.append(Paragraph(f"Analyst readout: {analysis['summary']}"))
    return Section("How it was measured", tuple(blocks))
