"""``assay exp ...`` against real stores: design numbers, analyze from YAML + Parquet, show/list, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from assay.experiments import list_experiments, stats
from assay.tracking.client import Client

EXPERIMENT = """
name: cli-checkout
description: One-page checkout
exposures: {source: exposures, unit_column: user_id, variant_column: variant, timestamp_column: exposed_at}
variants: [control, treatment]
primary_metric: conversion
secondary_metrics: [revenue]
dimensions: [country]
"""
CATALOG = """
metrics:
  conversion: {kind: proportion, source: events, timestamp_column: ts, filter: "event = 'purchase'", window: {end: 14d}}
  revenue: {source: events, timestamp_column: ts, value: amount, window: {end: 14d}}
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exposures and events of 600 units as Parquet; treatment converts at 45% against 20% in control."""
    folder = tmp_path_factory.mktemp("exp-cli")
    rng = np.random.default_rng(3)
    n = 600
    users = np.arange(1, n + 1)
    variant = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    exposed = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s")
    pd.DataFrame({"user_id": users, "variant": variant, "exposed_at": exposed,
                  "country": rng.choice(["DE", "FR"], n)}).to_parquet(folder / "exposures.parquet")  # fmt: skip
    buys = rng.random(n) < np.where(variant == "treatment", 0.45, 0.20)
    events = pd.DataFrame({"user_id": users, "ts": exposed + pd.Timedelta(hours=2),
                           "event": np.where(buys, "purchase", "view"),
                           "amount": np.where(buys, rng.integers(10, 60, n) * 1.0, 0.0)})  # fmt: skip
    events.to_parquet(folder / "events.parquet")
    (folder / "metrics.yaml").write_text(CATALOG, encoding="utf-8")
    (folder / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
    return folder


def _analyze(cli, folder: Path, *args: str, experiment: str = "experiment.yaml"):
    return cli("exp", "analyze", str(folder / experiment), "--catalog", str(folder / "metrics.yaml"),
               "--source", f"exposures={folder / 'exposures.parquet'}", "-s", f"events={folder / 'events.parquet'}",
               *args)  # fmt: skip


def test_design_matches_stats(cli, ok_json):
    expected = stats.sample_size(mean=0.10, mde=0.02)
    data = ok_json(cli("exp", "design", "--metric-mean", "0.10", "--mde", "0.02", "--daily-traffic", "20000", "--json"))
    assert (data["n_per_variant"], data["total"]) == (expected.n_per_variant, expected.total) == (363466, 726932)
    assert data["duration"]["days"] == stats.duration(expected, 20000).days == 37
    result = cli("exp", "design", "--metric-mean", "0.10", "--mde", "0.02", "--daily-traffic", "20000")
    assert result.exit_code == 0, result.output
    assert "363,466 units per variant, 726,932 in total" in result.stdout
    assert "10% → 10.2%" in result.stdout and "About 37 days" in result.stdout

    args = ["--metric-mean", "25", "--sd", "40", "--mde", "1.5", "--absolute", "--alpha", "0.01", "--power", "0.9",
            "--variants", "3", "--cuped-correlation", "0.5"]  # fmt: skip
    expected = stats.sample_size(mean=25, sd=40, mde=1.5, relative=False, alpha=0.01, power=0.9, variants=3,
                                 cuped_correlation=0.5)  # fmt: skip
    data = ok_json(cli("exp", "design", *args, "--json"))
    assert data["n_per_variant"] == expected.n_per_variant and data["total"] == 3 * expected.n_per_variant
    assert data["duration"] is None and data["cuped_correlation"] == 0.5
    text = cli("exp", "design", *args).stdout
    assert "±1.5 absolute: mean 25 → 26.5" in text and "variance × 0.75" in text


def test_design_bad_input(cli, failed):
    assert "'mean' parameter of sample_size must be in (0, 1)" in failed(
        cli("exp", "design", "--metric-mean", "1.5", "--mde", "0.02"), 2
    )
    assert "'power'" in failed(cli("exp", "design", "--metric-mean", "0.1", "--mde", "0.02", "--power", "2"), 2)


def test_analyze_json_saves_and_show_list(cli, client: Client, data_dir: Path, ok_json):
    data = ok_json(_analyze(cli, data_dir, "--json"))
    assert isinstance(data["analysis_id"], int) and data["decision"] == "ship" and data["variant"] == "treatment"
    assert data["summary"].startswith("Treatment raised conversion")
    result = data["result"]
    assert result["counts"] == {"control": 300, "treatment": 300} and result["srm"]["ok"]
    primary = next(r for r in result["results"] if r["role"] == "primary" and r["slice"] is None)
    assert primary["outcome"] == "improved" and primary["result"]["ci_low"] > 0
    assert len(result["results"]) == 2 + 2 * 2  # two metrics, overall and in two countries

    shown = ok_json(cli("exp", "show", "cli-checkout", "--json"))
    assert shown["analyses"] == 1 and shown["status"] == "running"
    assert shown["latest_analyses"][0]["id"] == data["analysis_id"]
    assert shown["latest_analyses"][0]["decision"] == "ship" and shown["latest_analyses"][0]["analysed_at"]
    assert shown["definition"]["primary_metric"] == "conversion"
    assert shown["definition"]["metrics"]["conversion"]["kind"] == "proportion"  # catalog metrics embedded
    assert [v["name"] for v in shown["variants"]] == ["control", "treatment"]
    (listed,) = ok_json(cli("exp", "list", "--json"))
    assert listed["name"] == "cli-checkout" and listed["analyses"] == 1 and listed["last_analysis_at"]

    text = cli("exp", "show", "cli-checkout")
    assert text.exit_code == 0, text.output
    assert "Decision for cli-checkout: ship" in text.stdout and "One-page checkout" in text.stdout
    assert "conversion" in text.stdout and "improved" in text.stdout and "1 stored" in text.stdout
    assert "country=DE" not in text.stdout and "country=DE" in cli("exp", "show", "cli-checkout", "--slices").stdout
    listing = cli("exp", "list")
    assert listing.exit_code == 0 and "cli-checkout" in listing.stdout and "running" in listing.stdout


def test_analyze_table_show_sql_and_no_save(cli, client: Client, data_dir: Path):
    result = _analyze(cli, data_dir, "--show-sql", "--no-save", "--as-of", "2024-04-01")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Decision for cli-checkout: ship (treatment)" in out and "Recommendation: ship." in out
    assert "Sample ratio OK" in out and "Not saved (--no-save)." in out
    for header in ("metric", "control", "treatment", "lift", "95% CI", "p", "adj. p", "verdict"):
        assert header in out
    assert "improved" in out and "SELECT" in out.upper() and "exposures" in out
    assert list_experiments(client) == []

    result = _analyze(cli, data_dir)
    assert result.exit_code == 0, result.output
    assert "Saved as analysis" in result.stdout and "SELECT" not in result.stdout
    assert _analyze(cli, data_dir).exit_code == 0
    assert list_experiments(client)[0]["analyses"] == 2


def test_analyze_links_model_version(cli, client: Client, data_dir: Path, ok_json, failed):
    (data_dir / "linked.yaml").write_text(
        EXPERIMENT.replace("cli-checkout", "cli-linked") + 'models: {treatment: "models:/cli-ranker/1"}\n'
    )
    assert "model 'cli-ranker' not found" in failed(_analyze(cli, data_dir, experiment="linked.yaml"), 3)
    assert list_experiments(client) == []
    with client.start_run(project="ranking", capture_env=False) as run:
        run.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), "cli-ranker")
    assert ok_json(_analyze(cli, data_dir, "--json", experiment="linked.yaml"))["analysis_id"]
    shown = ok_json(cli("exp", "show", "cli-linked", "--json"))
    assert shown["variants"][1]["model"] == "models:/cli-ranker/1"
    assert "models:/cli-ranker/1" in cli("exp", "show", "cli-linked").stdout


def test_errors(cli, data_dir: Path, tmp_path: Path, failed):
    assert "file not found" in failed(cli("exp", "analyze", str(tmp_path / "missing.yaml")), 2)
    (tmp_path / "bad.yaml").write_text("name: [unclosed\nvariants: x\n")
    assert "not valid YAML at line" in failed(cli("exp", "analyze", str(tmp_path / "bad.yaml")), 2)
    (tmp_path / "empty.yaml").write_text("")
    assert "must be a mapping" in failed(cli("exp", "analyze", str(tmp_path / "empty.yaml")), 2)
    assert "NAME=PATH" in failed(_analyze(cli, data_dir, "--source", "orders"), 2)
    message = failed(_analyze(cli, data_dir, "--source", f"orders={tmp_path / 'nope.parquet'}"), 2)
    assert "--source orders=" in message and "file not found" in message
    no_catalog = cli("exp", "analyze", str(data_dir / "experiment.yaml"), "-s", f"exposures={data_dir}/x.parquet")
    assert "no definition for metric(s) 'conversion', 'revenue'" in failed(no_catalog, 3)  # before any source is read
    assert "experiment 'nope' not found" in failed(cli("exp", "show", "nope"), 3)
    assert "experiment 'nope' not found" in failed(cli("exp", "show", "nope", "--json"), 3)


def test_list_empty(cli, ok_json):
    assert "No experiments stored yet" in cli("exp", "list").stdout
    assert ok_json(cli("exp", "list", "--json")) == []
