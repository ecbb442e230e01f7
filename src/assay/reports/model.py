"""The executive report of one model version: is it fit to run, what did it earn, what could go wrong.

The verdict is read from the store: **at risk** when a policy gate fails, an open incident is critical or an
error, or a monitor is alerting; **needs attention** when evidence is missing (a gate without evidence, an
incomplete card, no fairness audit, an open warning incident, some drift); **healthy** otherwise. Then
quality metrics with their intervals (from the model card), the business impact measured in experiments
where a variant served this version (with a revenue projection when a baseline is stated), fairness by
group, monitoring (drift per window, live performance, incidents), governance (gates with evidence, alias
history) and what is still unknown.

Example::

    report = model_report("churn@production")
    report.verdict                       # 'healthy'
    report.write_html("churn.html")
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default
from assay.errors import InvalidInputError
from assay.experiments.persist import experiments_for_model
from assay.governance.card import SECTION_TITLES, model_card
from assay.governance.history import alias_history
from assay.governance.policy import check
from assay.monitoring.monitors import monitor_runs
from assay.reports._evidence import Finding, model_evidence
from assay.reports.document import Bars, Bullets, Forest, ForestRow, KeyFigure, Paragraph, Report, Section, Table
from assay.reports.impact import BusinessInputs, project_impact
from assay.reports.words import DECISION_LABELS, date_ms, finite, interval_words, lift, money, number

if TYPE_CHECKING:
    from assay.governance.card import ModelCard
    from assay.governance.policy import GateReport
    from assay.registry.registry import ModelVersion
    from assay.tracking.client import Client

__all__ = ["model_report", "model_uri"]

_LABELS = {
    "healthy": ("Healthy", "good"),
    "needs attention": ("Needs attention", "warn"),
    "at risk": ("At risk: review before relying on it", "bad"),
}


def model_uri(ref: str) -> str:
    """``churn@production``, ``churn/3``, ``churn`` (latest) or a ``models:/`` URI, as a ``models:/`` URI.

    >>> model_uri("churn@production"), model_uri("churn/3"), model_uri("churn")
    ('models:/churn@production', 'models:/churn/3', 'models:/churn/latest')
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(f"A model reference must be text such as 'churn@production' or 'churn/3'. Got {ref!r}.")
    ref = ref.strip()
    if ref.startswith("models:/"):
        return ref
    if "@" in ref or "/" in ref:
        return f"models:/{ref}"
    return f"models:/{ref}/latest"


def model_report(
    ref: str | tuple[str, int],
    client: Client | None = None,
    *,
    baseline_revenue: float | None = None,
    currency: str = "$",
    exposed_share: float = 1.0,
    horizon_years: float = 1.0,
    inputs: BusinessInputs | None = None,
    policy: Any = None,
) -> Report:
    """Build the executive report of a registered model version (``"churn@production"``, ``"churn/3"``, ...).

    ``policy`` overrides the project's saved policy for the gates (see :func:`assay.governance.policy.check`);
    the business inputs project the revenue impact of the latest experiment this version served in. Raises
    :class:`~assay.errors.NotFoundError` for an unknown model, version or alias.

    Example::

        model_report("churn@production", baseline_revenue=4e6).write_pdf("churn.pdf")
    """
    inputs = inputs or BusinessInputs(baseline_revenue, currency, exposed_share, horizon_years)
    c = client_or_default(client)
    uri = f"models:/{ref[0]}/{int(ref[1])}" if isinstance(ref, tuple) else model_uri(ref)
    _, mv, _ = c.registry.resolve(uri)
    assert mv is not None  # models:/ URIs always name a registered version
    card = model_card(mv, client=c)
    ev = model_evidence(c, mv.name, mv.version, card=card)
    gates = check(mv, policy, client=c)
    links = experiments_for_model(mv.name, mv.version, client=c)
    who = f"{mv.name} v{mv.version}"

    risks: list[Finding] = [Finding(g.summary(), "bad") for g in gates.gates if g.status == "fail"]
    risks += ev.risks
    unknowns = list(ev.unknowns)
    unknowns += [
        f"Gate {g.gate}: no evidence recorded ({g.detail or g.evidence})"
        for g in gates.gates
        if g.status in ("missing_evidence", "error")
    ]
    if card.missing:
        unknowns.append("Model card incomplete: " + ", ".join(SECTION_TITLES[m].lower() for m in card.missing) + ".")
    if not links:
        unknowns.append(
            f"Business impact: no experiment has measured what {who} earns (link a variant to it with "
            f"models: {{treatment: models:/{mv.name}/{mv.version}}})."
        )
    no_ci = [m.name for m in card.metrics if m.status != "ok"]
    if no_ci:
        unknowns.append(f"Metrics logged without an interval (their precision is unknown): {', '.join(no_ci)}.")

    verdict = _verdict(gates, ev, card)
    label, tone = _LABELS[verdict]
    headline_metric = next((m for m in card.metrics if m.status == "ok"), card.metrics[0] if card.metrics else None)
    since = _alias_since(c, mv)
    parts = [f"{who}" + (f" holds {', '.join(mv.aliases)}" if mv.aliases else " holds no alias") + since + "."]
    if headline_metric is not None:
        parts.append(f"Test {headline_metric.name}: {_metric_words(headline_metric)}.")
    n_pass = len(gates.gates) - len(gates.failed)
    parts.append(f"{n_pass} of {len(gates.gates)} policy gate(s) pass.")
    parts.append(f"{len(ev.incidents)} open incident(s)." if ev.incidents else "No open incident.")
    if links and links[0]["primary"]:
        p = links[0]["primary"][0]
        parts.append(
            f"In experiment {links[0]['experiment']} it moved {p['metric'].replace('_', ' ')} "
            f"{interval_words(p['estimate'], p['ci_low'], p['ci_high'], p['relative'])}."
        )

    figures = []
    if headline_metric is not None:
        figures.append(
            KeyFigure(f"Test {headline_metric.name}", number(headline_metric.value), _interval_detail(headline_metric))
        )
    impact_section, impact_figure = _impact_section(links, inputs, who)
    if impact_figure is not None:
        figures.append(impact_figure)
    figures.append(
        KeyFigure(
            "Policy gates",
            f"{n_pass} / {len(gates.gates)} pass",
            "failed: " + ", ".join(g.gate for g in gates.failed) if gates.failed else "all pass",
        )
    )
    figures.append(
        KeyFigure(
            "Open incidents",
            str(len(ev.incidents)),
            "; ".join(f"#{i.id} {i.severity}" for i in ev.incidents[:3]) or "none",
        )
    )

    sections = [
        Section(
            "Risks",
            (Bullets(tuple(f.text for f in risks), tuple(f.tone for f in risks)),)
            if risks
            else (Paragraph("No risk on record: gates pass, nothing is alerting.", "good"),),
        ),
        _quality_section(card),
        impact_section,
        _fairness_section(card, who),
        _monitoring_section(c, ev),
        _governance_section(c, mv, gates, card),
        Section(
            "What is still unknown",
            (Bullets(tuple(unknowns)),) if unknowns else (Paragraph("Nothing essential is missing from the record."),),
        ),
    ]
    subtitle = (
        f"{mv.model_class.rsplit('.', 1)[-1]} ({mv.flavor}), registered {mv.created_at:%Y-%m-%d}"
        + (f" from run {mv.run_id[:12]} in project {card.project}" if mv.run_id and card.project else "")
        + (f"; author {card.author}" if card.author else "")
        + "."
    )
    facts = {
        "model": mv.name,
        "version": mv.version,
        "aliases": list(mv.aliases),
        "verdict": verdict,
        "gates_passed": n_pass,
        "gates_total": len(gates.gates),
        "open_incidents": [i.id for i in ev.incidents],
        "drift_share": ev.drift_share,
        "experiments": [{k: link[k] for k in ("experiment", "variant", "decision")} for link in links],
        "metrics": {m.name: [m.value, m.ci_low, m.ci_high] for m in card.metrics},
    }
    return Report(
        "model",
        f"Model {who}" + (f" ({', '.join(mv.aliases)})" if mv.aliases else ""),
        subtitle,
        label,
        verdict,
        " ".join(parts),
        tone,
        tuple(figures),
        tuple(sections),
        facts,
    )


def _verdict(gates: GateReport, ev: Any, card: ModelCard) -> str:
    if any(g.status == "fail" for g in gates.gates) or any(f.tone == "bad" for f in ev.risks):
        return "at risk"
    if not gates.passed or ev.unknowns or card.missing or any(f.tone == "warn" for f in ev.risks):
        return "needs attention"
    return "healthy"


def _alias_since(c: Client, mv: ModelVersion) -> str:
    moves = [m for m in alias_history(mv.name, client=c) if m["version"] == mv.version and m["alias"] in mv.aliases]
    if not moves:
        return ""
    last = moves[-1]
    return f" (set {date_ms(last['ts_ms'])} by {last['actor']})"


def _metric_words(m: Any) -> str:
    if m.status == "ok":
        return f"{number(m.value)} (95% interval {number(m.ci_low)} to {number(m.ci_high)})"
    return f"{number(m.value)} (no interval logged)"


def _interval_detail(m: Any) -> str:
    if m.status == "ok":
        level = f"{m.ci_level:.0%}" if m.ci_level else "95%"
        return f"between {number(m.ci_low)} and {number(m.ci_high)} ({level} interval)"
    return "no interval logged"


def _quality_section(card: ModelCard) -> Section:
    if not card.metrics:
        return Section("Quality", (Paragraph("No metric was logged on the version's run.", "warn"),))
    rows = tuple(
        (m.name, number(m.value), f"{number(m.ci_low)} to {number(m.ci_high)}" if m.status == "ok" else "not logged")
        for m in card.metrics
    )
    data = [
        f"{d.role} {d.name} ({'?' if d.num_rows is None else f'{d.num_rows:,}'} rows)"
        for d in (*card.training_data, *card.evaluation_data)
    ]
    blocks: list[Any] = [Table(("metric", "value", "95% interval"), rows, "Latest values logged on the training run.")]
    if data:
        blocks.append(Paragraph("Data: " + "; ".join(data) + "."))
    return Section("Quality", tuple(blocks))


def _impact_section(links: list[dict[str, Any]], inputs: BusinessInputs, who: str) -> tuple[Section, KeyFigure | None]:
    if not links:
        return Section("Business impact", (Paragraph(f"No experiment has measured {who} yet.", "warn"),)), None
    rows, forest = [], []
    for link in links:
        label, _ = DECISION_LABELS.get(link["decision"] or "", (link["decision"] or "no readout", "neutral"))
        for p in link["primary"]:
            words = interval_words(p["estimate"], p["ci_low"], p["ci_high"], p["relative"])
            rows.append((link["experiment"], link["variant"], p["metric"].replace("_", " "), words, label))
            if finite(p["estimate"]) is not None:
                forest.append(
                    ForestRow(
                        f"{link['experiment']}: {p['metric']}",
                        p["estimate"],
                        finite(p["ci_low"]),
                        finite(p["ci_high"]),
                        "good" if link["decision"] == "ship" else "neutral",
                    )
                )
        if not link["primary"]:
            rows.append((link["experiment"], link["variant"], "-", "no stored result", label))
    blocks: list[Any] = [
        Table(("experiment", "variant", "primary metric", "change (95% interval)", "decision"), tuple(rows))
    ]
    if forest:
        blocks.append(
            Forest(
                "Measured lift of this version (95% intervals)",
                tuple(forest),
                percent=all(p["relative"] for link in links for p in link["primary"]),
            )
        )
    figure = None
    best = next((link for link in links if link["primary"]), None)
    if best is not None:
        p = best["primary"][0]
        impact = project_impact(
            p["estimate"] if finite(p["estimate"]) is not None else math.nan,
            p["ci_low"],
            p["ci_high"],
            inputs,
            metric=p["metric"].replace("_", " "),
            relative=bool(p["relative"]),
        )
        blocks.append(Paragraph(f"From {best['experiment']}: {impact.summary()}"))
        if impact.status == "ok":
            blocks.append(Bullets(impact.assumptions))
            figure = KeyFigure(
                f"Projected revenue {impact.period}",
                money(impact.estimate, inputs.currency),
                f"between {money(math.nan if impact.low is None else impact.low, inputs.currency)} and "
                f"{money(math.nan if impact.high is None else impact.high, inputs.currency)}",
            )
        elif finite(p["estimate"]) is not None:
            figure = KeyFigure(
                f"Lift in {best['experiment']}",
                lift(p["estimate"], p["relative"]),
                interval_words(p["estimate"], p["ci_low"], p["ci_high"], p["relative"]).split(", most")[0],
            )
    return Section("Business impact", tuple(blocks)), figure


def _fairness_section(card: ModelCard, who: str) -> Section:
    report = card.fairness
    if card.fairness_status != "ok" or not report:
        return Section(
            "Fairness",
            (
                Paragraph(
                    f"No fairness audit is stored for {who} (governance/fairness.json on "
                    "its run): treatment of groups is unknown.",
                    "warn",
                ),
            ),
        )
    from assay.reports._evidence import fairness_finding

    finding = fairness_finding(report, "ok", who)
    blocks: list[Any] = [Paragraph(finding.text, finding.tone)] if finding else []
    feature = report.get("feature")
    groups = [
        g
        for g in report.get("by_group") or []
        if g.get("feature") == feature and finite(g.get("selection_rate")) is not None
    ]
    if groups:
        rows = tuple(
            ForestRow(
                f"{g['group']} (n={g['n']:,})",
                g["selection_rate"],
                *(finite(v) for v in (g.get("selection_rate_ci") or [None, None])),
                "neutral" if g.get("status") == "ok" else "warn",
            )
            for g in groups
        )
        blocks.append(
            Bars(
                f"Share selected by the model, by {feature} (95% intervals)",
                rows,
                percent=True,
                caption="Groups too small to judge are shown in amber and not compared.",
            )
        )
    return Section("Fairness", tuple(blocks))


def _monitoring_section(c: Client, ev: Any) -> Section:
    if not ev.monitors:
        return Section("Monitoring", (Paragraph("No monitor watches this version.", "warn"),))
    blocks: list[Any] = []
    for m in ev.monitors:
        runs = monitor_runs(m["name"], limit=12, client=c)
        rows = tuple(
            (
                r["window_start"][:16].replace("T", " "),
                r["status"],
                f"{int(r['figures'].get('rows', 0)):,}",
                "-"
                if finite(r["figures"].get("drift.share_drifted")) is None
                else f"{r['figures']['drift.share_drifted']:.0%}",
                "-"
                if finite(r["figures"].get("performance.auc")) is None
                else f"{r['figures']['performance.auc']:.3f}",
            )
            for r in runs
        )
        blocks.append(
            Table(
                ("window start", "status", "rows", "features drifted", "live AUC"),
                rows,
                f"Monitor {m['name']}, newest window first.",
            )
        )
        drift = [
            (r["window_start"][:10], r["figures"]["drift.share_drifted"])
            for r in runs[::-1]
            if finite(r["figures"].get("drift.share_drifted")) is not None
        ]
        if drift:
            blocks.append(
                Bars(
                    f"Share of features drifted per window ({m['name']})",
                    tuple(
                        ForestRow(d, s, None, None, "bad" if s >= 0.5 else ("warn" if s > 0 else "good"))
                        for d, s in drift
                    ),
                    percent=True,
                )
            )
    return Section("Monitoring", tuple(blocks))


def _governance_section(c: Client, mv: ModelVersion, gates: GateReport, card: ModelCard) -> Section:
    status = {"pass": "pass", "fail": "FAIL", "missing_evidence": "no evidence", "error": "error"}
    rows = tuple((g.gate, status[g.status], g.evidence) for g in gates.gates)
    blocks: list[Any] = [
        Paragraph(gates.summary(), "good" if gates.passed else "warn"),
        Table(("gate", "status", "evidence"), rows),
    ]
    moves = alias_history(mv.name, client=c)[-6:]
    if moves:
        blocks.append(
            Table(
                ("when", "who", "alias", "version"),
                tuple(
                    (
                        date_ms(m["ts_ms"]),
                        m["actor"],
                        m["alias"] or "",
                        "removed" if m["version"] is None else f"v{m['version']}",
                    )
                    for m in moves
                ),
                "Latest alias moves of the model (audit log).",
            )
        )
    blocks.append(
        Paragraph(
            "Model card complete." if card.complete else f"Model card missing {len(card.missing)} section(s).",
            "good" if card.complete else "warn",
        )
    )
    return Section("Governance", tuple(blocks))
