"""Models, versions, aliases, alias history, cards, gates, lineage and promotion through the real app
(single-user store: the local owner may do everything)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assay.tracking.client import Client

from .conftest import register_model

API = "/api/v1"
CARD = {"intended_use": "Retention calls", "factors": "plan, tenure", "ethical_considerations": "none automated",
        "caveats_and_recommendations": "retrain monthly", "quantitative_analyses": "no person-level data",
        "evaluation_data": "holdout month"}  # fmt: skip


def test_models_versions_and_aliases(api: TestClient, store: Client) -> None:
    v1, v2 = register_model(store), register_model(store)
    models = api.get(f"{API}/models").json()
    assert models["total"] == 1 and models["items"][0]["name"] == "churn" and models["items"][0]["versions"] == 2
    model = api.get(f"{API}/models/churn").json()
    assert model["project"] == "churn" and model["latest_version"] == v2
    versions = api.get(f"{API}/models/churn/versions", params={"limit": 1}).json()
    assert versions["total"] == 2 and versions["items"][0]["version"] == v1 and versions["next"]
    one = api.get(f"{API}/models/churn/versions/{v1}").json()
    assert one["flavor"] and one["run_id"] and one["project"] == "churn"

    moved = api.put(f"{API}/models/churn/aliases/staging", json={"version": v1})
    assert moved.status_code == 200 and moved.json()["aliases"] == ["staging"]
    api.put(f"{API}/models/churn/aliases/staging", json={"version": v2})
    assert api.get(f"{API}/models/churn/aliases").json() == {"staging": v2}
    assert api.get(f"{API}/models/churn/aliases/staging").json()["version"] == v2
    history = api.get(f"{API}/models/churn/alias-history", params={"alias": "staging"}).json()["items"]
    assert [(h["version"], h["previous"]) for h in history] == [(v1, None), (v2, v1)]
    assert api.delete(f"{API}/models/churn/aliases/staging").status_code == 204
    assert api.get(f"{API}/models/churn/aliases").json() == {}
    assert api.get(f"{API}/models/churn/alias-history").json()["items"][-1]["version"] is None

    assert api.get(f"{API}/models/nope").status_code == 404
    assert api.get(f"{API}/models/churn/versions/99").status_code == 404
    gone = api.get(f"{API}/models/churn/aliases/staging")
    assert gone.status_code == 404 and "has no alias 'staging'" in gone.json()["message"]
    assert api.delete(f"{API}/models/churn/aliases/staging").status_code == 404
    bad = api.put(f"{API}/models/churn/aliases/latest", json={"version": v1})
    assert bad.status_code == 400 and "reserved" in bad.json()["message"]
    assert api.put(f"{API}/models/churn/aliases/x", json={"version": 0}).status_code == 422


def test_card_gates_lineage_and_promotion(api: TestClient, store: Client) -> None:
    v = register_model(store)
    card = api.get(f"{API}/models/churn/versions/{v}/card").json()
    assert card["complete"] is False and "intended_use" in card["missing"] and card["summary"].startswith("Model card")
    fields = {f["name"] for f in api.get(f"{API}/card-fields").json()}
    assert set(CARD) <= fields
    edited = api.patch(f"{API}/models/churn/versions/{v}/card", json={"fields": CARD})
    assert edited.status_code == 200 and edited.json()["complete"] is True
    wrong = api.patch(f"{API}/models/churn/versions/{v}/card", json={"fields": {"colour": "blue"}})
    assert wrong.status_code == 400 and "colour" in wrong.json()["message"]
    gates = api.get(f"{API}/models/churn/versions/{v}/gates").json()
    assert gates["model"] == "churn" and gates["gates"] and {"gate", "status", "evidence"} <= set(gates["gates"][0])
    policy = api.get(f"{API}/projects/churn/policy").json()
    assert policy["protected_aliases"] == ["production"] and policy["source"] == "default"
    promoted = api.post(f"{API}/models/churn/versions/{v}/promote", json={"alias": "production"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["alias"] == "production" and promoted.json()["previous"] is None
    lineage = api.get(f"{API}/models/churn/versions/{v}/lineage").json()
    assert lineage["aliases"] == ["production"] and lineage["run"]["project"] == "churn"
    assert len(lineage["promotions"]) == 1
    assert api.get(f"{API}/models/churn/versions/{v}/experiments").json() == []
    projects = api.get(f"{API}/projects").json()
    assert [p["name"] for p in projects["items"]] == ["churn"] and projects["items"][0]["runs"] == 1
    assert api.get(f"{API}/projects/churn").json()["role"] == "admin"
    assert api.get(f"{API}/projects/nope").status_code == 404
