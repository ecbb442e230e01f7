"""Runs through the real app on a real SQLite store: search with the filter grammar and pagination, one run,
metric history, artifacts, and writing (create, batch, tags, end, resume) with the error mapping."""

from __future__ import annotations

import math
from pathlib import Path

from fastapi.testclient import TestClient

from assay.tracking.client import Client

from .conftest import seed_runs

API = "/api/v1"


def test_search_filters_orders_and_paginates(api: TestClient, store: Client, tmp_path: Path) -> None:
    ids = seed_runs(store, n=3, tmp_path=tmp_path)
    seed_runs(store, project="other", n=1)
    got = api.get(f"{API}/runs", params={"project": "churn", "filter": "metrics.auc > 0.72",
                                         "order_by": "metrics.auc desc", "limit": 1})  # fmt: skip
    assert got.status_code == 200, got.text
    page = got.json()
    assert page["total"] == 2 and page["limit"] == 1 and page["offset"] == 0
    first = page["items"][0]
    assert first["run_id"] == ids[2] and first["project"] == "churn" and first["status"] == "finished"
    assert math.isclose(first["metrics"]["auc"], 0.80) and first["params"] == {"model": "lgbm", "num_leaves": "48"}
    assert first["tags"] == {"team": "retention"} and first["start_time"].endswith("+00:00")
    second = api.get(page["next"]).json()  # the next link carries the filter and order along
    assert [r["run_id"] for r in second["items"]] == [ids[1]] and second["next"] is None
    everything = api.get(f"{API}/runs").json()
    assert everything["total"] == 4 and {r["project"] for r in everything["items"]} == {"churn", "other"}


def test_bad_search_input_is_400_or_422_with_the_message(api: TestClient, store: Client) -> None:
    seed_runs(store, n=1)
    bad = api.get(f"{API}/runs", params={"filter": "metrics.auc >> 1"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "FilterSyntaxError" and "position" in bad.json()["message"]
    unknown = api.get(f"{API}/runs", params={"project": "nope"})
    assert unknown.status_code == 404 and "project 'nope' not found" in unknown.json()["message"]
    limit = api.get(f"{API}/runs", params={"limit": 0})
    assert limit.status_code == 422 and limit.json()["error"] == "ValidationError"
    assert "limit" in limit.json()["message"]
    order = api.get(f"{API}/runs", params={"order_by": "metrics.auc sideways"})
    assert order.status_code == 400


def test_one_run_history_and_artifacts(api: TestClient, store: Client, tmp_path: Path) -> None:
    run_id = seed_runs(store, n=1, tmp_path=tmp_path)[0]
    run = api.get(f"{API}/runs/{run_id}").json()
    assert run["name"] == "lgbm-0" and run["params"]["num_leaves"] == "16" and run["metric_keys"] == ["auc", "loss"]
    hist = api.get(f"{API}/runs/{run_id}/metrics/loss/history", params={"limit": 2, "offset": 1}).json()
    assert hist["total"] == 5 and [p["step"] for p in hist["items"]] == [1, 2]
    assert math.isclose(hist["items"][0]["value"], 0.5) and "offset=3" in hist["next"]
    missing = api.get(f"{API}/runs/{run_id}/metrics/nope/history")
    assert missing.status_code == 404 and "has no metric 'nope'" in missing.json()["message"]
    arts = api.get(f"{API}/runs/{run_id}/artifacts").json()
    assert [a["path"] for a in arts["items"]] == ["reports/report.txt"] and arts["items"][0]["size"] == 13
    assert api.get(f"{API}/runs/{run_id}/artifacts", params={"prefix": "other"}).json()["total"] == 0
    body = api.get(f"{API}/runs/{run_id}/artifact", params={"path": "reports/report.txt"})
    assert body.status_code == 200 and body.content == b"auc by month\n"
    assert "report.txt" in body.headers["content-disposition"]
    escape = api.get(f"{API}/runs/{run_id}/artifact", params={"path": "../../etc/passwd"})
    assert escape.status_code == 400 and escape.json()["error"] == "UnsafePathError"
    assert api.get(f"{API}/runs/{run_id}/artifact", params={"path": "nope.txt"}).status_code == 404
    assert api.get(f"{API}/runs/{run_id}/inputs").json() == []


def test_unknown_run_and_route_are_404_json(api: TestClient) -> None:
    got = api.get(f"{API}/runs/deadbeef")
    assert got.status_code == 404
    assert got.json() == {"error": "NotFoundError",
                          "message": "run 'deadbeef' not found; check the id with `assay runs list`"}  # fmt: skip
    route = api.get(f"{API}/no/such/thing")
    assert route.status_code == 404 and route.json()["error"] == "NotFoundError"


def test_create_log_a_batch_end_and_resume(api: TestClient, store: Client) -> None:
    created = api.post(f"{API}/runs", json={"project": "churn", "name": "remote", "tags": {"via": "api"}})
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    assert created.json()["status"] == "running" and created.json()["tags"] == {"via": "api"}
    batch = {
        "metrics": [{"key": "loss", "value": 0.5, "step": 0}, {"key": "loss", "value": 0.25, "step": 1},
                    {"key": "auc", "value": None, "step": 0, "timestamp": 1_700_000_000.5}],
        "params": {"lr": 0.1, "deep": True, "note": None},
        "tags": {"stage": "cv"},
    }  # fmt: skip
    logged = api.post(f"{API}/runs/{run_id}/batch", json=batch)
    assert logged.status_code == 200 and logged.json() == {"metrics": 3, "params": 3, "tags": 1}
    info = store.run_info(run_id)
    assert info["params"] == {"lr": "0.1", "deep": "True", "note": "None"} and info["tags"]["stage"] == "cv"
    assert [v for _, v, _ in store.metric_history(run_id, "loss")] == [0.5, 0.25]
    assert math.isnan(store.metric_history(run_id, "auc")[0][1])
    # params are immutable: the whole batch is refused and nothing of it written
    clashing = {"params": {"lr": 0.2}, "metrics": [{"key": "loss", "value": 9, "step": 2}]}
    clash = api.post(f"{API}/runs/{run_id}/batch", json=clashing)
    assert clash.status_code == 409 and clash.json()["error"] == "ConflictError" and "'lr'" in clash.json()["message"]
    assert len(store.metric_history(run_id, "loss")) == 2
    ended = api.post(f"{API}/runs/{run_id}/terminate", json={"status": "failed"})
    assert ended.json()["status"] == "failed" and ended.json()["end_time"] is not None
    late = api.post(f"{API}/runs/{run_id}/batch", json={"metrics": [{"key": "loss", "value": 1, "step": 3}]})
    assert late.status_code == 409 and "resume it" in late.json()["message"]
    assert api.post(f"{API}/runs/{run_id}/resume").json()["status"] == "running"
    assert api.post(f"{API}/runs/{run_id}/batch", json={"metrics": [{"key": "loss", "value": 1}]}).status_code == 200
    tags = api.post(f"{API}/runs/{run_id}/tags", json={"tags": {"stage": "final", "owner": "ana"}})
    assert tags.json() == {"via": "api", "stage": "final", "owner": "ana"}
    assert api.delete(f"{API}/runs/{run_id}/tags/owner").status_code == 204
    assert "owner" not in store.run_info(run_id)["tags"]
    bad_status = api.post(f"{API}/runs/{run_id}/terminate", json={"status": "exploded"})
    assert bad_status.status_code == 422 and "status" in bad_status.json()["message"]
    bad_value = api.post(f"{API}/runs/{run_id}/batch", json={"metrics": [{"key": "loss", "value": "high"}]})
    assert bad_value.status_code == 422 and bad_value.json()["error"] == "ValidationError"
    empty = api.post(f"{API}/runs/{run_id}/tags", json={"tags": {}})
    assert empty.status_code == 400
    assert api.post(f"{API}/runs/nope/batch", json={}).status_code == 404
    payload = bytes(range(256)) * 5000
    uploaded = api.put(f"{API}/runs/{run_id}/artifact", params={"path": "plots/data.bin"}, content=payload)
    assert uploaded.status_code == 200 and uploaded.json()["size"] == len(payload)
    back = api.get(f"{API}/runs/{run_id}/artifact", params={"path": "plots/data.bin"})
    assert back.content == payload
    unsafe = api.put(f"{API}/runs/{run_id}/artifact", params={"path": "/etc/x"}, content=b"x")
    assert unsafe.status_code == 400
    parent = api.post(f"{API}/runs", json={"project": "churn", "parent_run_id": "nope"})
    assert parent.status_code == 404
