"""Datasets (versions, profiles, contract results), monitoring (monitors, runs, alerts, incidents moved with a
note) and experiments (stored analyses, readout) through the real app on a real store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from assay.monitoring.monitors import create_monitor, run_monitor
from assay.tracking.client import Client

from .conftest import DAY0, register_model, seed_dataset, seed_experiment

API = "/api/v1"


def test_datasets_versions_profiles_and_checks(api: TestClient, store: Client, tmp_path: Path) -> None:
    seed_dataset(store, tmp_path)
    listed = api.get(f"{API}/datasets").json()
    assert listed["total"] == 1 and listed["items"][0]["versions"] == 2 and listed["items"][0]["latest_num_rows"] == 300
    versions = api.get(f"{API}/datasets/customers/versions").json()["items"]
    assert [v["num_rows"] for v in versions] == [300, 200] and all(v["has_profile"] for v in versions)
    assert versions[0]["checks"] == 2 and "income" in versions[0]["schema"]
    newest = api.get(f"{API}/datasets/customers/profile").json()
    assert newest["rows"] == 300 and "summary" in newest
    older = api.get(f"{API}/datasets/customers/profile", params={"fingerprint": versions[1]["fingerprint"][:10]})
    assert older.json()["rows"] == 200
    checks = api.get(f"{API}/datasets/customers/checks", params={"kind": "validation"}).json()["items"]
    assert len(checks) == 1 and checks[0]["passed"] is True and checks[0]["kind"] == "validation"
    assert api.get(f"{API}/datasets/customers/checks").json()["total"] == 2
    assert api.get(f"{API}/datasets/nope/versions").status_code == 404
    assert api.get(f"{API}/datasets/customers/profile", params={"fingerprint": "XYZ"}).status_code == 422
    assert api.get(f"{API}/datasets/customers/checks", params={"kind": "vibes"}).status_code == 422


def _monitor(store: Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 500
    ts = [DAY0 + dt.timedelta(seconds=int(s)) for s in rng.uniform(0, 86_399, n)]
    current = pd.DataFrame({"ts": ts, "income": rng.normal(80, 10, n)})
    current.to_parquet(tmp_path / "current.parquet")
    pd.DataFrame({"income": rng.normal(50, 10, n)}).to_parquet(tmp_path / "ref.parquet")
    create_monitor({"name": "churn-daily", "model": "models:/churn/1", "current": str(tmp_path / "current.parquet"),
                    "timestamp": "ts", "window": "1d", "reference": str(tmp_path / "ref.parquet"),
                    "checks": {"drift": {"columns": ["income"]}},
                    "rules": [{"name": "drift", "figure": "drift.share_drifted", "op": ">=", "threshold": 0.5,
                               "notify": ["log"]}]}, client=store)  # fmt: skip
    run_monitor("churn-daily", at="2026-11-02T03:00:00", client=store)


def test_monitors_alerts_and_incidents(api: TestClient, store: Client, tmp_path: Path) -> None:
    register_model(store)
    _monitor(store, tmp_path)
    monitors = api.get(f"{API}/monitors").json()["items"]
    assert [m["name"] for m in monitors] == ["churn-daily"] and monitors[0]["model_name"] == "churn"
    spec = api.get(f"{API}/monitors/churn-daily").json()
    assert spec["project"] == "churn" and spec["definition"]["window"] == "1d"
    runs = api.get(f"{API}/monitors/churn-daily/runs").json()
    assert runs["total"] == 1 and runs["items"][0]["status"] == "alerting"
    assert runs["items"][0]["figures"]["drift.share_drifted"] == 1.0
    alerts = api.get(f"{API}/alerts", params={"monitor": "churn-daily"}).json()
    assert (
        alerts["total"] == 1
        and alerts["items"][0]["rule"] == "drift"
        and alerts["items"][0]["monitor"] == "churn-daily"
    )
    incidents = api.get(f"{API}/incidents", params={"state": "open"}).json()["items"]
    assert len(incidents) == 1 and incidents[0]["monitor"] == "churn-daily"
    iid = incidents[0]["id"]
    acked = api.post(f"{API}/incidents/{iid}/acknowledge", json={"note": "looking at the income feed"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged" and acked.json()["owner"]
    assert acked.json()["postmortem"] == "looking at the income feed"
    resolved = api.post(f"{API}/incidents/{iid}/resolve", json={"note": "upstream income feed fixed"})
    assert resolved.json()["state"] == "resolved" and resolved.json()["postmortem"] == "upstream income feed fixed"
    wrong = api.post(f"{API}/incidents/{iid}/acknowledge", json={})
    assert wrong.status_code == 409 and wrong.json()["error"] == "StateError"
    assert api.post(f"{API}/incidents/{iid}/reopen").json()["state"] == "open"
    assert api.get(f"{API}/incidents/{iid}").json()["summary"].startswith(f"Incident #{iid}")
    assert api.get(f"{API}/incidents/999").status_code == 404
    assert api.get(f"{API}/monitors/nope/runs").status_code == 404
    assert api.get(f"{API}/incidents", params={"state": "sleeping"}).status_code == 422


def test_experiments_and_readouts(api: TestClient, store: Client) -> None:
    seed_experiment(store, analyses=3)
    seed_experiment(store, name="search-ranking", analyses=0)
    listed = api.get(f"{API}/experiments").json()
    assert listed["total"] == 2 and {e["name"] for e in listed["items"]} == {"checkout-v2", "search-ranking"}
    exp = api.get(f"{API}/experiments/checkout-v2").json()
    assert exp["analyses"] == 3 and [v["name"] for v in exp["variants"]] == ["control", "treatment"]
    page = api.get(f"{API}/experiments/checkout-v2/analyses", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next"]
    last = api.get(page["next"]).json()
    assert len(last["items"]) == 1 and last["items"][0]["decision"] == "keep running"
    readout = api.get(f"{API}/experiments/checkout-v2/readout").json()
    assert readout["decision"] == "ship" and readout["metrics"][0]["ci_low"] == 0.008
    none_yet = api.get(f"{API}/experiments/search-ranking/readout")
    assert none_yet.status_code == 404 and "no stored analysis" in none_yet.json()["message"]
    assert api.get(f"{API}/experiments/nope").status_code == 404
