"""Tokens and roles on a multi-user store, through the real app: 401 without or with a bad token, 403 when
the role is too low (viewer cannot approve, move an alias or log), reviewers approve others' versions only,
and lists show only the projects a caller may read."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.governance import identity as ident
from assay.tracking.client import Client

from .conftest import bearer, make_client, make_team, register_model, seed_runs

API = "/api/v1"


@pytest.fixture
def team(store: Client, tmp_path: Path) -> dict[str, str]:
    tokens = make_team(store, tmp_path)
    sci = make_client(store.settings.store_url, tmp_path, tokens["sci"])
    seed_runs(sci, n=2)
    register_model(sci)
    seed_runs(make_client(store.settings.store_url, tmp_path, tokens["other"]), project="other", n=1)
    return tokens


def test_no_token_or_a_bad_one_is_401(api: TestClient, team: dict[str, str]) -> None:
    missing = api.get(f"{API}/runs")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "Unauthenticated" and "Authorization: Bearer" in missing.json()["message"]
    unknown = api.get(f"{API}/runs", headers=bearer("assay_not-a-token"))
    assert unknown.status_code == 401 and "not known" in unknown.json()["message"]
    basic = api.get(f"{API}/runs", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401 and "Bearer" in basic.json()["message"]
    assert api.get(f"{API}/health").status_code == 200  # liveness needs no token


def test_revoked_token_is_401(api: TestClient, store: Client, team: dict[str, str], tmp_path: Path) -> None:
    root = make_client(store.settings.store_url, tmp_path, team["root"])
    assert api.get(f"{API}/whoami", headers=bearer(team["view"])).json()["user"] == "view"
    token_id = next(t["id"] for t in ident.list_tokens("view", client=root))
    ident.revoke_token(token_id, client=root)
    refused = api.get(f"{API}/whoami", headers=bearer(team["view"]))
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]


def test_viewer_reads_but_cannot_write(api: TestClient, team: dict[str, str]) -> None:
    view = bearer(team["view"])
    me = api.get(f"{API}/whoami", headers=view).json()
    assert me == {"user": "view", "single_user": False, "roles": {"churn": "viewer"}}
    runs = api.get(f"{API}/runs", headers=view).json()
    assert runs["total"] == 3 and {r["project"] for r in runs["items"]} == {"churn"}  # not project "other"
    assert [p["name"] for p in api.get(f"{API}/projects", headers=view).json()["items"]] == ["churn"]
    hidden = api.get(f"{API}/runs", params={"project": "other"}, headers=view)
    assert hidden.status_code == 403 and "needs the viewer role in project 'other'" in hidden.json()["message"]
    run_id = runs["items"][0]["run_id"]
    assert api.get(f"{API}/runs/{run_id}", headers=view).status_code == 200
    log = api.post(f"{API}/runs/{run_id}/batch", json={"tags": {"x": 1}}, headers=view)
    assert log.status_code == 403 and log.json()["error"] == "PermissionDeniedError"
    assert "needs the scientist role in project 'churn'" in log.json()["message"]
    assert api.post(f"{API}/runs", json={"project": "churn"}, headers=view).status_code == 403
    upload = api.put(f"{API}/runs/{run_id}/artifact", params={"path": "x.txt"}, content=b"x", headers=view)
    assert upload.status_code == 403
    alias = api.put(f"{API}/models/churn/aliases/staging", json={"version": 1}, headers=view)
    assert alias.status_code == 403
    assert api.delete(f"{API}/models/churn/aliases/staging", headers=view).status_code == 403
    card = api.patch(f"{API}/models/churn/versions/1/card", json={"fields": {"overview": "x"}}, headers=view)
    assert card.status_code == 403
    assert api.get(f"{API}/models/churn/versions/1/card", headers=view).status_code == 200
    assert api.get(f"{API}/models", headers=view).json()["total"] == 1
    assert api.get(f"{API}/models", headers=bearer(team["other"])).json()["total"] == 0


def test_approval_roles(api: TestClient, team: dict[str, str]) -> None:
    sci, view, rev, rev2 = (bearer(team[n]) for n in ("sci", "view", "rev", "rev2"))
    asked = api.post(f"{API}/approvals", json={"model": "churn", "version": 1, "comment": "first"}, headers=sci)
    assert asked.status_code == 201, asked.text
    rid = asked.json()["id"]
    assert asked.json()["state"] == "pending" and asked.json()["requested_by"] == "sci"
    assert api.post(f"{API}/approvals", json={"model": "churn", "version": 1}, headers=view).status_code == 403
    listed = api.get(f"{API}/approvals", params={"state": "pending"}, headers=view).json()
    assert [r["id"] for r in listed["items"]] == [rid]
    assert api.get(f"{API}/approvals", headers=bearer(team["other"])).json()["total"] == 0
    refused = api.post(f"{API}/approvals/{rid}/approve", json={"comment": "lgtm"}, headers=view)
    assert refused.status_code == 403 and "needs the reviewer role" in refused.json()["message"]
    assert api.post(f"{API}/approvals/{rid}/approve", json={}, headers=sci).status_code == 403
    no_reason = api.post(f"{API}/approvals/{rid}/reject", json={}, headers=rev)
    assert no_reason.status_code == 400 and "say why" in no_reason.json()["message"]
    approved = api.post(f"{API}/approvals/{rid}/approve", json={"comment": "card checked"}, headers=rev)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["decided_by"] == "rev" and approved.json()["decision_comment"] == "card checked"
    again = api.post(f"{API}/approvals/{rid}/reject", json={"comment": "late"}, headers=rev2)
    assert again.status_code == 409 and again.json()["error"] == "StateError"
    assert api.get(f"{API}/approvals/{rid}", headers=view).json()["state"] == "approved"
    assert api.get(f"{API}/approvals/999", headers=view).status_code == 404
    # the protected alias moves only by promotion; the scientist may not move it directly
    direct = api.put(f"{API}/models/churn/aliases/production", json={"version": 1}, headers=sci)
    assert direct.status_code == 403 and "protected" in direct.json()["message"]
    staging = api.put(f"{API}/models/churn/aliases/staging", json={"version": 1}, headers=sci)
    assert staging.status_code == 200
    gated = api.post(f"{API}/models/churn/versions/1/promote", json={}, headers=sci)
    assert gated.status_code == 403 and "fails policy gates" in gated.json()["message"]
    forced = api.post(f"{API}/models/churn/versions/1/promote", json={"override": "sign-off #1"},
                      headers=bearer(team["root"]))  # fmt: skip
    assert forced.status_code == 200 and forced.json()["approved_by"] == "rev"


def test_reviewer_cannot_approve_own_version(api: TestClient, store: Client, team: dict[str, str],
                                             tmp_path: Path) -> None:  # fmt: skip
    root = make_client(store.settings.store_url, tmp_path, team["root"])
    ident.grant("rev", "admin", project="churn", client=root)
    v = register_model(make_client(store.settings.store_url, tmp_path, team["rev"]))
    rid = api.post(f"{API}/approvals", json={"model": "churn", "version": v}, headers=bearer(team["rev"])).json()["id"]
    own = api.post(f"{API}/approvals/{rid}/approve", json={}, headers=bearer(team["rev"]))
    assert own.status_code == 403 and "cannot review it" in own.json()["message"]


def test_cookie_login_and_scientist_logging(api: TestClient, team: dict[str, str]) -> None:
    api.cookies.set("assay_token", team["sci"])
    try:
        created = api.post(f"{API}/runs", json={"project": "churn", "name": "from-browser"})
        assert created.status_code == 201 and created.json()["user"] == "sci"
        run_id = created.json()["run_id"]
        ok = api.post(f"{API}/runs/{run_id}/batch", json={"metrics": [{"key": "auc", "value": 0.9}]})
        assert ok.status_code == 200
        other = api.post(f"{API}/runs", json={"project": "other"})
        assert other.status_code == 403
    finally:
        api.cookies.clear()
