"""The experiment report, built from analyses stored by the real experiments API: decision first, the effect's
interval in words matching the stored numbers, projected impact, risks of the served model, HTML and PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import InvalidInputError, NotFoundError
from assay.experiments import load_experiment
from assay.reports import Table, experiment_report
from assay.reports.words import interval_words, money
from assay.tracking.client import Client

from .conftest import World, assert_offline, experiment_frames, pdf_pages, pdf_text, store_experiment


def _stored_primary(client: Client, name: str) -> dict:
    analysis = load_experiment(name, client)["latest_analyses"][0]
    return next(m for m in analysis["metrics"] if m["role"] == "primary" and m["slice"] is None)


def test_a_winning_experiment_reads_ship_with_its_interval(world: World) -> None:
    report = experiment_report("retention-offers", world.client, baseline_revenue=2_000_000)
    row = _stored_primary(world.client, "retention-offers")
    words = interval_words(row["estimate"], row["ci_low"], row["ci_high"])
    assert words.startswith("between +") and ", most likely +" in words
    assert report.verdict == "ship" and report.decision == "Ship treatment" and report.tone == "good"
    assert words in report.headline and "no guardrail was harmed" in report.headline
    assert report.facts["estimate"] == pytest.approx(row["estimate"]) and report.facts["analysis_id"] >= 1
    impact = report.facts["impact"]
    assert (impact["estimate"], impact["low"], impact["high"]) == pytest.approx(
        (row["estimate"] * 2e6, row["ci_low"] * 2e6, row["ci_high"] * 2e6)
    )
    assert [s.title for s in report.sections] == [
        "The effect",
        "By segment (exploratory)",
        "Projected business impact",
        "Risks",
        "What is still unknown",
        "How it was measured",
    ]
    text = report.text()
    assert money(row["estimate"] * 2e6) in text and "Baseline: $2M" in text
    risks = "\n".join(report.section("Risks").blocks[0].items)  # type: ignore[union-attr]
    assert "Traffic split matches the design" in risks and "Guardrail complaints" in risks
    assert f"treatment serves churn v{world.version}" in risks and "Open incident #" in risks  # the served model
    assert "Fairness of churn" in risks and "four-fifths" in risks
    assert "28d of first exposure" in "\n".join(report.section("What is still unknown").blocks[0].items)  # type: ignore[union-attr]
    assert report.summary().startswith("Experiment retention-offers: New churn model drives retention offers. Ship")


def test_html_is_self_contained_and_pdf_has_the_decision(world: World, tmp_path: Path) -> None:
    report = experiment_report("retention-offers", world.client)
    html = report.html
    assert html.startswith("<!DOCTYPE html>") and "Ship treatment" in html
    assert_offline(html)
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inlined, charts drawn offline
    assert "No revenue projection: no baseline revenue was stated" in html
    path = report.write_html(tmp_path / "out" / "exp.html")
    assert path.read_text(encoding="utf-8") == html

    data = report.to_pdf()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and pdf_pages(data) >= 1
    text = pdf_text(data)
    row = _stored_primary(world.client, "retention-offers")
    assert "Ship treatment" in text and "DECISION" in text
    assert interval_words(row["estimate"], row["ci_low"], row["ci_high"]) in text.replace("\n", " ")
    assert "Change vs control, every metric (95% intervals)" in text and "Risks" in text
    assert report.write_pdf(tmp_path / "exp.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    ("name", "kwargs", "verdict", "decision", "words"),
    [
        ("null-effect", {"lift": 0.0, "seed": 8}, "keep running", "Keep running", "too uncertain to call"),
        ("harmful", {"lift": -0.35}, "don't ship", "Don't ship", "It should not ship"),
        ("skewed-split", {"lift": 0.1, "share": 0.6}, "inconclusive", "Inconclusive", "sample ratio mismatch"),
    ],
)
def test_every_decision_is_derived_from_the_stored_readout(
    world: World, name: str, kwargs: dict, verdict: str, decision: str, words: str
) -> None:
    store_experiment(world.client, name, linked=False, **kwargs)
    stored = load_experiment(name, world.client)["latest_analyses"][0]["decision"]
    report = experiment_report(name, world.client, baseline_revenue=1e6)
    assert {"keep running": "keep running", "don't ship": "don't ship", "inconclusive": "investigate"}[
        verdict
    ] == stored
    assert report.verdict == verdict and report.decision.startswith(decision) and words in report.headline
    assert report.tone in ("warn", "bad")
    unknown = "\n".join(report.section("What is still unknown").blocks[0].items)  # type: ignore[union-attr]
    if verdict == "keep running":
        assert "reliably detects changes of about ±" in unknown
    if verdict == "inconclusive":
        assert "Sample ratio mismatch" in report.text() and report.facts["impact"] is None
        assert "Not projected: the numbers cannot be trusted" in report.text()
    else:
        assert report.facts["impact"]["status"] == "ok"
    assert pdf_text(report.to_pdf()).count(decision) >= 1


def test_unknown_experiment_is_not_found_with_the_known_names(world: World) -> None:
    with pytest.raises(NotFoundError, match=r"experiment 'nope' not found; recorded experiments: .*retention-offers"):
        experiment_report("nope", world.client)
    with pytest.raises(InvalidInputError, match="must be an experiment name"):
        experiment_report("  ", world.client)
    with pytest.raises(InvalidInputError, match="baseline_revenue"):
        experiment_report("retention-offers", world.client, baseline_revenue=0)


def test_on_each_backend(client: Client) -> None:
    """The report reads the store the same way on SQLite and PostgreSQL."""
    store_experiment(client, "pg-check", linked=False)
    report = experiment_report("pg-check", client, baseline_revenue=5e5)
    counts = experiment_frames()["exposures"]["variant"].value_counts().to_dict()
    assert report.verdict == "ship" and report.facts["counts"] == counts
    assert report.to_pdf().startswith(b"%PDF-")


def test_segments_are_shown_as_exploratory_with_the_stored_numbers(world: World) -> None:
    report = experiment_report("retention-offers", world.client)
    assert [s.title for s in report.sections][:2] == ["The effect", "By segment (exploratory)"]
    table = next(b for b in report.section("By segment (exploratory)").blocks if isinstance(b, Table))
    analysis = load_experiment("retention-offers", world.client)["latest_analyses"][0]
    stored = {m["slice"]: m for m in analysis["metrics"] if m["metric"] == "retained" and m["slice"] is not None}
    assert {row[0] for row in table.rows} == set(stored) == {"region=north", "region=south"}
    for row in table.rows:
        m = stored[row[0]]
        assert row[2] == interval_words(m["estimate"], m["ci_low"], m["ci_high"])


@pytest.mark.parametrize("method", ["bayesian", "sequential"])
def test_other_analysis_methods(world: World, method: str) -> None:
    store_experiment(world.client, f"method-{method}", linked=False, method=method)
    report = experiment_report(f"method-{method}", world.client, baseline_revenue=1e6)
    assert report.verdict == "ship" and report.facts["impact"]["status"] == "ok"
    assert report.facts["impact"]["probability_positive"] > 0.99
    how = "\n".join(report.section("How it was measured").blocks[0].items)  # type: ignore[union-attr]
    assert {"bayesian": "Bayesian analysis", "sequential": "always-valid"}[method] in how
    assert report.to_pdf().startswith(b"%PDF-")


def test_an_experiment_without_analysis_has_no_readout(world: World) -> None:
    from assay.store import experiments as eq

    world.client.db.retrying_write(
        lambda conn: eq.save_experiment(conn, "not-yet", {"description": "Planned test"}, [], status="draft")
    )
    report = experiment_report("not-yet", world.client)
    assert report.verdict == "no readout" and report.decision == "No readout yet" and not report.sections
    assert "assay exp analyze" in report.headline
    assert "No readout yet" in pdf_text(report.to_pdf())
