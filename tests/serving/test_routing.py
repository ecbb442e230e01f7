"""Canary split (the experiment hash), shadow scoring beside live, alias moves picked up without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient
from scipy import stats

from assay.experiments.assign import assign
from assay.serving import read_prediction_log

from .conftest import Store


def test_canary_split_is_the_experiment_assignment(store: Store, make_app: Callable) -> None:
    app = make_app(canary_uri="models:/churn/2", canary_weight=0.3, canary_salt="churn-canary-nov")
    keys = [f"customer-{i}" for i in range(300)]
    with TestClient(app) as tc:
        arms = []
        for key in keys:
            out = tc.post("/predict", json=[store.record()], headers={"X-Request-Key": key}).json()
            assert out["version"] == (2 if out["arm"] == "canary" else 1)
            arms.append(out["arm"])
        again = [
            tc.post("/predict", json=[store.record()], headers={"X-Request-Key": k}).json()["arm"] for k in keys[:50]
        ]
        info = tc.get("/model").json()
    assert again == arms[:50]  # deterministic per key
    expected = assign(keys, "churn-canary-nov", ["live", "canary"], [0.7, 0.3]).tolist()
    assert arms == expected  # the same hash as experiment assignment
    n_canary = arms.count("canary")
    assert stats.binomtest(n_canary, len(keys), 0.3).pvalue > 1e-4
    assert info["canary"]["assignment"]["weights"] == [0.7, 0.3]
    log = read_prediction_log("churn", root=store.log_root)
    assert set(log["arm"]) == {"live", "canary"}
    assert (log.loc[log["arm"] == "canary", "version"] == "2").all()


def test_canary_key_field_routes_by_record(store: Store, make_app: Callable) -> None:
    app = make_app(canary_uri="models:/churn/2", canary_weight=0.5, key_field="customer_id")
    ids = list(range(60))
    with TestClient(app) as tc:
        arms = [tc.post("/predict", json=[{**store.record(), "customer_id": i}]).json()["arm"] for i in ids]
    assert arms == assign(ids, "churn-canary", ["live", "canary"], [0.5, 0.5]).tolist()
    log = read_prediction_log("churn", root=store.log_root)
    assert sorted(log["id"].astype(int)) == ids  # the key is the logged id, for joining labels later


def test_shadow_scores_a_copy_and_is_logged_beside_live(store: Store, make_app: Callable) -> None:
    app = make_app(shadow_uri="models:/churn/2")
    shadow = store.client.load_model("models:/churn/2")
    with TestClient(app) as tc:
        answers = [tc.post("/predict", json=[store.record(i), store.record(i + 1)]).json() for i in range(10)]
    assert all(a["version"] == 1 and a["arm"] == "live" for a in answers)  # the caller only sees live
    log = read_prediction_log("churn", root=store.log_root, features=True)
    live, shadowed = log[log["arm"] == "live"], log[log["arm"] == "shadow"]
    assert len(live) == len(shadowed) == 20
    pairs = live.merge(shadowed, on=["request_id", "row"], suffixes=("_live", "_shadow"))
    assert len(pairs) == 20 and (pairs["version_shadow"] == "2").all()
    expected = shadow.predict_proba(pairs[[f"x{i}_shadow" for i in range(6)]].set_axis(store.x.columns, axis=1))
    np.testing.assert_allclose(pairs["score_shadow"], expected[:, 1], rtol=1e-12)


def test_alias_move_is_picked_up_without_restart(store: Store, make_app: Callable) -> None:
    app = make_app(reload_interval_s=0.05)
    v2 = store.client.load_model("models:/churn/2")
    with TestClient(app) as tc:
        assert tc.post("/predict", json=[store.record()]).json()["version"] == 1
        store.client.set_alias("churn", "production", 2)
        deadline = time.monotonic() + 30
        while tc.get("/model").json()["version"] != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        out = tc.post("/predict", json=[store.record()]).json()
        metrics = tc.get("/metrics").text
    assert out["version"] == 2
    np.testing.assert_allclose(out["probabilities"], v2.predict_proba(store.x.head(1)), rtol=1e-12)
    assert 'assay_serving_reloads_total{arm="live",outcome="ok"} 1.0' in metrics


def test_reload_keeps_serving_while_swapping(store: Store, make_app: Callable) -> None:
    app = make_app()
    runtime = app.state.runtime
    with TestClient(app) as tc:
        assert runtime.reload() == []  # nothing moved
        store.client.set_alias("churn", "production", 3)
        assert runtime.reload() == ["live: 1 -> 3"]
        out = tc.post("/predict", json=[store.record()]).json()
        store.client.registry.delete_alias("churn", "production")
        assert runtime.reload() == []  # alias gone: keep serving what we have, count the error
        assert tc.post("/predict", json=[store.record()]).json()["version"] == 3
        metrics = tc.get("/metrics").text
    assert out["version"] == 3
    assert 'assay_serving_reloads_total{arm="live",outcome="error"} 1.0' in metrics
