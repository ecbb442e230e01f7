"""The portfolio report: every project with its KPIs, the models in production, the latest experiment results
and the open incidents, on one page an executive can scan.

The verdict is **on track** when no production model is at risk and no open incident is an error or critical,
else **needs attention**. KPIs of a project are the metrics of the experiments whose variants served a model
registered from that project's runs (primary first), described from the metric catalog when one is given
(:class:`assay.experiments.MetricCatalog`: "KPI definitions kept in one place") or from the experiments'
own definitions.

Example::

    report = portfolio_report(catalog="metrics.yaml")
    report.write_html("portfolio.html")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assay._defaults import client_or_default
from assay.experiments.metrics import MetricCatalog
from assay.experiments.persist import list_experiments, load_experiment
from assay.governance.card import model_card
from assay.governance.policy import check
from assay.reports._evidence import model_evidence, open_incidents
from assay.reports.document import Bullets, Forest, ForestRow, KeyFigure, Paragraph, Report, Section, Table
from assay.reports.words import DECISION_LABELS, date_ms, finite, interval_words, number
from assay.store.models import ModelVersion, Project, RegisteredModel, Run

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["portfolio_report"]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


PRODUCTION = "production"
_ROLE_ORDER = {"primary": 0, "guardrail": 1, "secondary": 2}


def _projects(c: Client) -> list[dict[str, Any]]:
    """Projects with run counts, last run time and the model versions registered from their runs."""
    with c.db.read() as conn:
        runs = conn.execute(
            select(Project.name, func.count(Run.id), func.max(Run.start_ms))
            .outerjoin(Run, Run.project_id == Project.id)
            .group_by(Project.name)
            .order_by(Project.name)
        ).all()
        versions = conn.execute(
            select(Project.name, RegisteredModel.name, ModelVersion.version)
            .join(Run, Run.project_id == Project.id)
            .join(ModelVersion, ModelVersion.run_id == Run.id)
            .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        ).all()
    out = {name: {"name": name, "runs": n, "last_run_ms": last, "models": set()} for name, n, last in runs}
    for project, model, version in versions:
        out[project]["models"].add((model, version))
    return list(out.values())


def _latest(c: Client) -> list[dict[str, Any]]:
    """Each experiment with its latest analysis' decision and overall primary result of the leading variant."""
    out = []
    for e in list_experiments(c):
        exp = load_experiment(e["name"], c, analyses=1)
        analysis = exp["latest_analyses"][0] if exp["latest_analyses"] else None
        definition = exp["definition"] or {}
        primary = []
        if analysis is not None:
            primary = [m for m in analysis["metrics"] if m["role"] == "primary" and m["slice"] is None]
        direction = ((definition.get("metrics") or {}).get(definition.get("primary_metric"), {}) or {}).get("direction")
        sign = -1.0 if direction == "decrease" else 1.0
        lead = max(primary, key=lambda m: sign * (finite(m["estimate"]) or -1e300), default=None)
        out.append(
            {
                "name": e["name"],
                "status": exp["status"],
                "definition": definition,
                "analysis": analysis,
                "lead": lead,
                "models": {v["model"] for v in exp["variants"] if v.get("model")},
            }
        )
    return out


def _kpis(experiments: list[dict[str, Any]], catalog: MetricCatalog | None) -> dict[str, dict[str, Any]]:
    """Every metric used by an experiment (or in the catalog): role, description, experiments using it."""
    kpis: dict[str, dict[str, Any]] = {}
    for e in experiments:
        d = e["definition"]
        roles = [(d.get("primary_metric"), "primary")] + [(m, "guardrail") for m in d.get("guardrail_metrics") or []]
        roles += [(m, "secondary") for m in d.get("secondary_metrics") or []]
        for metric, role in roles:
            if not metric:
                continue
            spec = (d.get("metrics") or {}).get(metric) or {}
            k = kpis.setdefault(
                metric,
                {
                    "role": role,
                    "description": spec.get("description") or "",
                    "kind": spec.get("kind", "mean"),
                    "experiments": [],
                },
            )
            if _ROLE_ORDER[role] < _ROLE_ORDER[k["role"]]:
                k["role"] = role
            k["experiments"].append(e["name"])
    for m in catalog or ():
        k = kpis.setdefault(m.name, {"role": "catalog", "description": "", "kind": m.kind, "experiments": []})
        k["description"] = m.description or k["description"]
        k["kind"] = m.kind
    return kpis


def portfolio_report(
    client: Client | None = None,
    *,
    catalog: MetricCatalog | str | os.PathLike[str] | None = None,
    alias: str = PRODUCTION,
) -> Report:
    """Build the portfolio report of the whole store: projects and KPIs, models holding ``alias``, latest
    experiment results, open incidents. ``catalog`` (a :class:`MetricCatalog` or its YAML path) describes KPIs.

    Example::

        portfolio_report(catalog="metrics.yaml").write_pdf("portfolio.pdf")
    """
    c = client_or_default(client)
    if catalog is not None and not isinstance(catalog, MetricCatalog):
        catalog = MetricCatalog.from_yaml(catalog)
    projects = _projects(c)
    experiments = _latest(c)
    kpis = _kpis(experiments, catalog)
    incidents = open_incidents(c)
    production = [(m["name"], m["aliases"][alias]) for m in c.registry.list_models() if alias in m["aliases"]]

    model_rows, at_risk, unknowns = [], [], []
    for name, version in production:
        card = model_card((name, version), client=c)
        ev = model_evidence(c, name, version, card=card)
        gates = check((name, version), client=c)
        metric = next((m for m in card.metrics if m.status == "ok"), card.metrics[0] if card.metrics else None)
        quality = (
            "-"
            if metric is None
            else (
                f"{metric.name} {number(metric.value)}"
                + (f" ({number(metric.ci_low)} to {number(metric.ci_high)})" if metric.status == "ok" else "")
            )
        )
        risky = bool(gates.failed and any(g.status == "fail" for g in gates.gates)) or any(
            f.tone == "bad" for f in ev.risks
        )
        if risky:
            at_risk.append(f"{name} v{version}")
        served = [e for e in experiments if f"models:/{name}/{version}" in e["models"]]
        impact = "; ".join(f"{e['name']}: {_decision_label(e['analysis'])}" for e in served) or "not measured"
        model_rows.append(
            (
                f"{name} v{version}",
                card.project or "-",
                quality,
                f"{len(gates.gates) - len(gates.failed)}/{len(gates.gates)}",
                "-" if ev.drift_share is None else f"{ev.drift_share:.0%}",
                str(len(ev.incidents)),
                impact,
                "at risk" if risky else ("needs attention" if ev.unknowns or not gates.passed else "healthy"),
            )
        )
        if not ev.monitors:
            unknowns.append(f"{name} v{version} runs in {alias} without a monitor: its drift is not measured.")
        if not served:
            unknowns.append(f"{name} v{version}: no experiment has measured its business impact.")

    serious = [i for i in incidents if i.severity in ("critical", "error")]
    verdict = "needs attention" if at_risk or serious else "on track"
    decision = "On track" if verdict == "on track" else "Needs attention"
    shipped = [e for e in experiments if e["analysis"] and e["analysis"]["decision"] == "ship"]
    parts = [
        f"{len(projects)} project(s), {len(production)} model(s) in {alias}, {len(experiments)} experiment(s) "
        f"({len(shipped)} ready to ship), {len(incidents)} open incident(s)."
    ]
    if at_risk:
        parts.append(f"At risk: {', '.join(at_risk)}.")
    if serious:
        parts.append(
            f"{len(serious)} serious incident(s) open: " + "; ".join(f"#{i.id} {i.title}" for i in serious[:3]) + "."
        )

    sections = [
        _projects_section(projects, experiments, kpis),
        Section(
            f"Models in {alias}",
            (
                Table(
                    (
                        "model",
                        "project",
                        "quality (95% interval)",
                        "gates",
                        "drift",
                        "open incidents",
                        "measured impact",
                        "status",
                    ),
                    tuple(model_rows),
                ),
            )
            if model_rows
            else (Paragraph(f"No model holds the {alias} alias.", "warn"),),
        ),
        _experiments_section(experiments),
        _incidents_section(incidents),
        _kpi_section(kpis, catalog is not None),
    ]
    never = [e["name"] for e in experiments if e["analysis"] is None]
    if never:
        unknowns.append(f"Experiments without any analysis: {', '.join(never)}.")
    if shipped:
        unknowns.append(
            "Revenue impact is projected per experiment (it needs that experiment's baseline): see "
            "`assay report experiment NAME --baseline-revenue ...`."
        )
    sections.append(
        Section(
            "What is still unknown",
            (Bullets(tuple(unknowns)),) if unknowns else (Paragraph("Nothing essential is missing from the record."),),
        )
    )
    figures = (
        KeyFigure(f"Models in {alias}", str(len(production)), f"{len(at_risk)} at risk"),
        KeyFigure("Experiments", str(len(experiments)), f"{len(shipped)} ready to ship"),
        KeyFigure("Open incidents", str(len(incidents)), f"{len(serious)} error/critical"),
    )
    facts = {
        "projects": [p["name"] for p in projects],
        "production": [f"{n}/{v}" for n, v in production],
        "at_risk": at_risk,
        "experiments": {e["name"]: (e["analysis"] or {}).get("decision") for e in experiments},
        "open_incidents": [i.id for i in incidents],
        "kpis": sorted(kpis),
    }
    return Report(
        "portfolio",
        "Data-science portfolio",
        f"Everything in the store as of {date_ms(_now_ms())}.",
        decision,
        verdict,
        " ".join(parts),
        "good" if verdict == "on track" else "warn",
        figures,
        tuple(sections),
        facts,
    )


def _decision_label(analysis: dict[str, Any] | None) -> str:
    decision = (analysis or {}).get("decision") or ""
    return DECISION_LABELS.get(decision, ("no readout", ""))[0]


def _projects_section(projects: list[dict], experiments: list[dict], kpis: dict[str, dict]) -> Section:
    rows = []
    for p in projects:
        uris = {f"models:/{m}/{v}" for m, v in p["models"]}
        metrics = [
            k
            for k, spec in sorted(kpis.items(), key=lambda kv: _ROLE_ORDER.get(kv[1]["role"], 3))
            if any(e["name"] in spec["experiments"] and e["models"] & uris for e in experiments)
        ]
        names = sorted({m for m, _ in p["models"]})
        rows.append(
            (
                p["name"],
                f"{p['runs']:,}",
                date_ms(p["last_run_ms"]),
                ", ".join(names) or "-",
                ", ".join(metrics) or "none measured",
            )
        )
    if not rows:
        return Section("Projects and their KPIs", (Paragraph("No project yet: start a run to create one."),))
    return Section(
        "Projects and their KPIs",
        (Table(("project", "runs", "last run", "models", "KPIs moved in experiments"), tuple(rows)),),
    )


def _experiments_section(experiments: list[dict]) -> Section:
    if not experiments:
        return Section("Latest experiment results", (Paragraph("No experiment is stored yet."),))
    rows, forest = [], []
    for e in experiments:
        a, lead = e["analysis"], e["lead"]
        label, tone = DECISION_LABELS.get((a or {}).get("decision") or "", ("No readout yet", "neutral"))
        if lead is not None and finite(lead["estimate"]) is not None:
            words = interval_words(lead["estimate"], lead["ci_low"], lead["ci_high"], lead["relative"])
            forest.append(
                ForestRow(
                    f"{e['name']} ({lead['metric']})",
                    lead["estimate"],
                    finite(lead["ci_low"]),
                    finite(lead["ci_high"]),
                    tone,
                )
            )
            effect = f"{lead['metric']} ({lead['variant']}): {words}"
        else:
            effect = "-"
        rows.append((e["name"], e["status"], label, effect, date_ms(a["ts_ms"]) if a else "never"))
    blocks: list[Any] = [
        Table(("experiment", "status", "decision", "primary metric (95% interval)", "analysed"), tuple(rows))
    ]
    if forest:
        blocks.append(
            Forest(
                "Primary-metric lift per experiment (95% intervals)",
                tuple(forest),
                percent=all(e["lead"]["relative"] for e in experiments if e["lead"]),
            )
        )
    return Section("Latest experiment results", tuple(blocks))


def _incidents_section(incidents: list) -> Section:
    if not incidents:
        return Section("Open incidents", (Paragraph("No open incident.", "good"),))
    rows = tuple(
        (
            f"#{i.id}",
            i.severity,
            i.state,
            f"{i.model_name} v{i.model_version}" if i.model_name else "-",
            i.title,
            i.opened_at or "?",
            str(i.alert_count),
            i.owner or "unassigned",
        )
        for i in incidents
    )
    return Section(
        "Open incidents", (Table(("id", "severity", "state", "model", "what", "opened", "alerts", "owner"), rows),)
    )


def _kpi_section(kpis: dict[str, dict], from_catalog: bool) -> Section:
    if not kpis:
        return Section("KPI definitions", (Paragraph("No KPI is defined yet (no experiment and no catalog)."),))
    rows = tuple(
        (name, k["kind"], k["role"], k["description"] or "-", ", ".join(k["experiments"]) or "-")
        for name, k in sorted(kpis.items(), key=lambda kv: (_ROLE_ORDER.get(kv[1]["role"], 3), kv[0]))
    )
    source = "the metric catalog and the experiments' definitions" if from_catalog else "the experiments' definitions"
    return Section(
        "KPI definitions", (Table(("KPI", "kind", "role", "definition", "used by"), rows, f"From {source}."),)
    )
