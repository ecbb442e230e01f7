"""The end-to-end demo on a real store: runs, versions, alias, scoring and the summary all agree."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import assay
from assay.demo import customers, run_demo
from assay.demo import scenario as scenario_module
from assay.demo._train import boosting_spec
from assay.errors import InvalidInputError
from assay.tracking.client import Client

ROWS = 3_000


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


@pytest.fixture
def demo(client: Client) -> tuple[dict[str, Any], str]:
    console, out = _console()
    summary = run_demo(rows=ROWS, seed=7, console=console, client=client)
    return summary, out.getvalue()


def test_demo_records_two_finished_runs_and_promotes_the_better(client: Client, demo: tuple[dict, str]) -> None:
    summary, _ = demo
    assert summary["project"] == "churn" and summary["model_name"] == "churn"
    runs = {r["name"]: r for r in summary["runs"]}
    assert set(runs) == {"logistic-regression", "lightgbm"}

    stored = client.search_runs(project="churn")
    assert sorted(stored["run_id"]) == sorted(r["run_id"] for r in runs.values())
    for r in runs.values():
        info = client.run_info(r["run_id"])
        assert info["status"] == "finished"
        assert info["metrics"]["auc"] == pytest.approx(r["auc"])
        assert r["auc_ci_low"] < r["auc"] < r["auc_ci_high"]
        assert 0.7 < r["auc"] < 0.9
        for key in ("log_loss", "brier", "accuracy", "precision", "recall"):
            assert key in info["metrics"]
        assert info["params"]["seed"] == "7"
        assert {i["role"]: i["num_rows"] for i in client.run_inputs(r["run_id"])} == {"train": 2_250, "test": 750}
        paths = {a["path"] for a in client.list_artifacts(r["run_id"])}
        assert {"evaluation/roc_curve.csv", "evaluation/calibration_deciles.csv", "evaluation/metrics.json"} <= paths
        assert "model/assay-model.json" in paths

    # every run registered one version; production points at the higher test AUC
    versions = {v.version: v for v in client.registry.list_versions("churn")}
    assert set(versions) == {1, 2}
    assert {v.run_id for v in versions.values()} == {r["run_id"] for r in runs.values()}
    best = max(runs.values(), key=lambda r: r["auc"])
    assert summary["chosen"]["run_id"] == best["run_id"]
    assert summary["chosen"]["model_uri"] == f"models:/churn/{best['version']}"
    _, production, _ = client.registry.resolve("models:/churn@production")
    assert production is not None
    assert production.version == best["version"] == summary["chosen"]["version"]
    assert production.aliases == ("production",)
    assert summary["auc_difference"]["difference"] == pytest.approx(best["auc"] - min(r["auc"] for r in runs.values()))


def test_demo_logs_the_boosting_training_curve(client: Client, demo: tuple[dict, str]) -> None:
    summary, _ = demo
    lgbm = next(r for r in summary["runs"] if r["name"] == "lightgbm")
    history = client.get_run(lgbm["run_id"]).metric_history("test_auc")
    assert history["step"].tolist() == list(range(1, 201))
    assert history["value"].iloc[-1] == pytest.approx(lgbm["auc"], abs=1e-6)
    assert len(client.get_run(lgbm["run_id"]).metric_history("train_logloss")) == 200


def test_demo_writes_data_and_scores_a_fresh_batch(client: Client, demo: tuple[dict, str]) -> None:
    summary, _ = demo
    data_path = Path(summary["data_path"])
    assert data_path == client.settings.home / "demo" / "customers.parquet"
    table = pd.read_parquet(data_path)
    assert len(table) == ROWS == summary["rows"]
    assert summary["churn_rate"] == pytest.approx(table["churned"].mean())
    assert summary["train_rows"] + summary["test_rows"] == ROWS

    scored = pd.read_parquet(summary["scored_path"])
    assert len(scored) == summary["scored_rows"] == ROWS
    assert scored["churn_probability"].between(0, 1).all()
    assert not set(scored["customer_id"]) & set(table["customer_id"])
    assert summary["mean_score"] == pytest.approx(scored["churn_probability"].mean())

    predictor = client.load_model("models:/churn@production")
    assert predictor.version == summary["chosen"]["version"]
    fresh = customers(50, seed=99, first_id=10**6)
    p = predictor.predict_proba(fresh)[:, 1]
    assert p.shape == (50,) and np.all((p >= 0) & (p <= 1))
    json.dumps(summary)  # JSON-safe, for `assay demo --json`
    assert summary["elapsed_s"] > 0


def test_demo_prints_what_it_recorded_and_how_to_look(demo: tuple[dict, str]) -> None:
    summary, text = demo
    for r in summary["runs"]:
        assert f"assay runs show {r['run_id']}" in text
        assert r["name"] in text
    for fragment in (
        "assay runs list --project churn",
        "assay models show churn",
        "production",
        "What was recorded",
        "Top 8 customers at risk",
        "ASSAY_STORE_URL=",  # this client's store is not the CLI's default: the output says how to reach it
    ):
        assert fragment in text


def test_demo_uses_the_default_client(tmp_path: Path) -> None:
    console, _ = _console()
    summary = run_demo(rows=1_000, seed=3, console=console)
    default = assay.get_client()
    assert Path(summary["data_path"]).is_relative_to(default.settings.home)
    assert {v.version for v in default.registry.list_versions("churn")} == {1, 2}


def test_rerun_adds_versions_and_falls_back_without_lightgbm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(store_url=f"sqlite:///{tmp_path / 'a.db'}", artifacts_url=str(tmp_path / "art"), home=tmp_path)
    try:
        console, _ = _console()
        first = run_demo(rows=1_000, seed=1, console=console, client=client)
        monkeypatch.setattr(scenario_module, "boosting_spec", functools.partial(boosting_spec, use_lightgbm=False))
        second = run_demo(rows=1_000, seed=1, console=console, client=client)
        assert [r["version"] for r in first["runs"]] == [1, 2]
        assert [r["version"] for r in second["runs"]] == [3, 4]
        hgb = second["runs"][1]
        assert hgb["name"] == "hist-gradient-boosting"
        assert hgb["model_class"].endswith("HistGradientBoostingClassifier")
        assert client.get_run(hgb["run_id"]).metric_history("train_logloss")["step"].iloc[0] == 1
        _, production, _ = client.registry.resolve("models:/churn@production")
        assert production is not None and production.version == second["chosen"]["version"] in (3, 4)
    finally:
        client.close()


@pytest.mark.parametrize("rows", [10, 499, 2.5, True])
def test_bad_rows_are_rejected_before_anything_is_written(rows: object, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="'rows' parameter of run_demo"):
        run_demo(rows=rows)  # type: ignore[arg-type]
    assert not (tmp_path / "home").exists()
