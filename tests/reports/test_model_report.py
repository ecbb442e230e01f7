"""The model report over a real store: verdict from gates, drift and incidents; quality with intervals; measured
impact from the experiment the version served in; fairness by group; errors for unknown models."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import InvalidInputError, NotFoundError
from assay.governance import edit_card
from assay.governance.card import model_card
from assay.reports import Bars, Table, model_report
from assay.reports.model import model_uri

from .conftest import World, assert_offline, drifting_monitor, pdf_pages, pdf_text, register_churn

HUMAN = {
    "intended_use": "Rank customers by churn risk for retention calls.",
    "factors": "Gender and tenure band; both evaluated.",
    "quantitative_analyses": "Fairness across gender attached.",
    "ethical_considerations": "No protected attribute is a feature.",
    "caveats_and_recommendations": "Retrain quarterly; not for pricing.",
}


def test_a_drifting_model_with_an_incomplete_card_is_at_risk(world: World) -> None:
    report = model_report("churn@production", world.client, baseline_revenue=3e6)
    v = world.version
    assert report.kind == "model" and report.title == f"Model churn v{v} (production)"
    assert report.verdict == "at risk" and report.tone == "bad" and report.decision.startswith("At risk")
    assert f"churn v{v} holds production" in report.headline
    assert "Test auc: 0.84 (95% interval 0.81 to 0.87)" in report.headline
    assert "0 of 1 policy gate(s) pass" in report.headline and "1 open incident(s)" in report.headline
    assert "In experiment retention-offers it moved retained between +" in report.headline
    facts = report.facts
    assert facts["metrics"]["auc"] == [0.84, 0.81, 0.87] and facts["drift_share"] == 0.5
    assert len(facts["open_incidents"]) == 1 and facts["gates_passed"] == 0
    assert {"experiment": "retention-offers", "variant": "treatment", "decision": "ship"} in facts["experiments"]
    risks = report.section("Risks").blocks[0].items  # type: ignore[union-attr]
    assert any(r.startswith("card complete FAILS") for r in risks)
    assert any("50% of monitored features drifted" in r for r in risks)
    unknown = "\n".join(report.section("What is still unknown").blocks[0].items)  # type: ignore[union-attr]
    assert "Model card incomplete: intended use" in unknown and "without an interval" in unknown
    assert "log_loss" in unknown
    # the projection uses the lift measured in the experiment the version served in
    assert any(k.label == "Projected revenue per year" for k in report.key_figures)


def test_fairness_bars_are_the_stored_group_rates(world: World) -> None:
    report = model_report("churn/1", world.client)
    stored = model_card(("churn", 1), client=world.client).fairness
    assert stored is not None
    groups = {g["group"]: g for g in stored["by_group"] if g["feature"] == "gender"}
    bars = next(b for b in report.section("Fairness").blocks if isinstance(b, Bars))
    assert {r.label.split(" ")[0]: (r.estimate, r.low, r.high) for r in bars.rows} == {
        g: (d["selection_rate"], *d["selection_rate_ci"]) for g, d in groups.items()
    }
    monitoring = report.section("Monitoring").blocks
    table = next(b for b in monitoring if isinstance(b, Table))
    assert [row[1] for row in table.rows] == ["alerting", "ok"] and table.rows[0][3] == "50%"


def test_model_report_html_and_pdf(world: World, tmp_path: Path) -> None:
    report = model_report("models:/churn@production", world.client)
    html = report.write_html(tmp_path / "m.html").read_text(encoding="utf-8")
    assert "At risk: review before relying on it" in html
    assert_offline(html)
    data = report.write_pdf(tmp_path / "m.pdf").read_bytes()
    text = pdf_text(data)
    assert data.startswith(b"%PDF-") and pdf_pages(data) >= 2
    for heading in ("Risks", "Quality", "Business impact", "Fairness", "Monitoring", "Governance"):
        assert heading in text
    assert "Share selected by the model, by gender (95% intervals)" in text


def test_a_watched_fair_documented_model_is_healthy(world: World) -> None:
    register_churn(world.client, world.folder, name="upsell")
    edit_card("models:/upsell/1", HUMAN, client=world.client)
    drifting_monitor(world.client, world.folder, model="upsell", shift=0.0)
    report = model_report("upsell@production", world.client)
    assert report.verdict == "healthy" and report.decision == "Healthy" and report.tone == "good"
    assert "1 of 1 policy gate(s) pass" in report.headline and "No open incident." in report.headline
    unknown = "\n".join(report.section("What is still unknown").blocks[0].items)  # type: ignore[union-attr]
    assert "no experiment has measured what upsell v1 earns" in unknown  # said, but not held against its health


def test_references_and_unknown_models(world: World) -> None:
    assert model_uri("churn@production") == "models:/churn@production"
    assert model_uri("churn/2") == "models:/churn/2" and model_uri("churn") == "models:/churn/latest"
    assert model_report(("churn", world.version), world.client).facts["version"] == world.version
    with pytest.raises(NotFoundError, match=r"model 'nope' not found; registered models: \[.*'churn'"):
        model_report("nope@production", world.client)
    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        model_report("churn@staging", world.client)
    with pytest.raises(NotFoundError):
        model_report("churn/99", world.client)
    with pytest.raises(InvalidInputError, match="churn@production"):
        model_report("", world.client)
