"""The API on PostgreSQL (``ASSAY_TEST_POSTGRES_URL``): tokens and roles, batch logging (COPY path), search with
the filter grammar, pagination and an approval, on a schema of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.server import create_app
from assay.tracking.client import Client

from .conftest import bearer, make_client, make_team, register_model

API = "/api/v1"
POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def pg_api(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Client]]:
    base = make_client(store_url, tmp_path)
    with TestClient(create_app(base, ui=False), raise_server_exceptions=False) as tc:
        yield tc, base
    base.close()


@pytest.mark.parametrize("store_url", POSTGRES, indirect=True)
def test_team_workflow_on_postgres(pg_api: tuple[TestClient, Client], tmp_path: Path) -> None:
    api, base = pg_api
    tokens = make_team(base, tmp_path)
    sci, view, rev = bearer(tokens["sci"]), bearer(tokens["view"]), bearer(tokens["rev"])
    assert api.get(f"{API}/runs").status_code == 401
    ids = []
    for i in range(3):
        run_id = api.post(f"{API}/runs", json={"project": "churn", "name": f"r{i}"}, headers=sci).json()["run_id"]
        points = [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(50)]
        batch = {"metrics": [*points, {"key": "auc", "value": 0.7 + 0.05 * i}], "params": {"depth": 4 + i}}
        assert api.post(f"{API}/runs/{run_id}/batch", json=batch, headers=sci).json()["metrics"] == 51
        api.post(f"{API}/runs/{run_id}/terminate", json={}, headers=sci)
        ids.append(run_id)
    page = api.get(f"{API}/runs", params={"filter": "params.depth >= 5 and metrics.auc > 0.7",
                                          "order_by": "params.depth", "limit": 1}, headers=view).json()  # fmt: skip
    assert page["total"] == 2 and [r["run_id"] for r in page["items"]] == [ids[1]]
    assert [r["run_id"] for r in api.get(page["next"], headers=view).json()["items"]] == [ids[2]]
    history = api.get(f"{API}/runs/{ids[0]}/metrics/loss/history", params={"limit": 1000}, headers=view).json()
    assert history["total"] == 50 and history["items"][-1]["step"] == 49
    assert api.post(f"{API}/runs/{ids[0]}/tags", json={"tags": {"x": 1}}, headers=view).status_code == 403
    version = register_model(make_client(base.settings.store_url, tmp_path, tokens["sci"]))
    rid = api.post(f"{API}/approvals", json={"model": "churn", "version": version}, headers=sci).json()["id"]
    assert api.post(f"{API}/approvals/{rid}/approve", json={}, headers=view).status_code == 403
    assert api.post(f"{API}/approvals/{rid}/approve", json={"comment": "ok"}, headers=rev).json()["state"] == "approved"
    assert api.put(f"{API}/models/churn/aliases/staging", json={"version": version}, headers=view).status_code == 403
