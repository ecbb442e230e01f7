"""The portfolio report: projects with their KPIs, models in production, latest experiments, open incidents."""

from __future__ import annotations

from pathlib import Path

from assay.experiments import Metric, MetricCatalog
from assay.monitoring import incidents
from assay.reports import Forest, Table, portfolio_report
from assay.tracking.client import Client

from .conftest import World, assert_offline, pdf_text


def test_portfolio_lists_projects_kpis_models_experiments_and_incidents(world: World, tmp_path: Path) -> None:
    catalog = MetricCatalog(
        [
            Metric(
                "retained",
                kind="proportion",
                source="events",
                filter="event = 'renew'",
                description="Share of customers who renew within 28 days",
            )
        ]
    )
    path = tmp_path / "metrics.yaml"
    catalog.to_yaml(path)
    report = portfolio_report(world.client, catalog=path)
    facts = report.facts
    assert "churn" in facts["projects"] and f"churn/{world.version}" in facts["production"]
    assert facts["experiments"]["retention-offers"] == "ship"
    open_ids = [i.id for s in ("open", "acknowledged") for i in incidents.list_incidents(state=s, client=world.client)]
    assert sorted(facts["open_incidents"]) == sorted(open_ids) and open_ids
    assert report.verdict == "needs attention" and f"churn v{world.version}" in facts["at_risk"]
    assert {"retained", "complaints", "spend"} <= set(facts["kpis"])

    projects = report.section("Projects and their KPIs").blocks[0]
    assert isinstance(projects, Table)
    churn = next(r for r in projects.rows if r[0] == "churn")
    assert churn[4].startswith("retained") and "complaints" in churn[4]  # primary KPI first
    kpis = report.section("KPI definitions").blocks[0]
    assert isinstance(kpis, Table)
    assert next(r for r in kpis.rows if r[0] == "retained")[:4] == (
        "retained",
        "proportion",
        "primary",
        "Share of customers who renew within 28 days",
    )
    models = report.section("Models in production").blocks[0]
    assert isinstance(models, Table)
    row = next(r for r in models.rows if r[0] == f"churn v{world.version}")
    assert row[2] == "auc 0.84 (0.81 to 0.87)" and row[4] == "50%" and row[7] == "at risk"
    assert "retention-offers: Ship" in row[6]
    latest = report.section("Latest experiment results").blocks
    assert any(isinstance(b, Forest) and any(r.label.startswith("retention-offers") for r in b.rows) for b in latest)
    incidents_table = report.section("Open incidents").blocks[0]
    assert isinstance(incidents_table, Table) and any("drift.share_drifted" in r[4] for r in incidents_table.rows)

    assert_offline(report.html)
    text = pdf_text(report.to_pdf())
    assert "Data-science portfolio" in text and "Needs attention" in text and "KPI definitions" in text


def test_an_empty_store_is_on_track_and_says_what_is_missing(client: Client) -> None:
    report = portfolio_report(client)
    assert report.verdict == "on track" and report.decision == "On track"
    assert report.headline.startswith("0 project(s), 0 model(s) in production, 0 experiment(s)")
    assert "No model holds the production alias." in report.text()
    assert report.to_pdf().startswith(b"%PDF-")
