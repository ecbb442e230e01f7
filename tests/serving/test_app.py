"""The FastAPI app against real registered models: predictions, errors, metadata, metrics, explanations."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assay.errors import InvalidInputError, NotFoundError
from assay.serving import read_prediction_log
from assay.serving.app import create_app

from .conftest import FEATURES, Store


@pytest.mark.parametrize("version", [1, 3])  # sklearn wrapper and raw booster: native fast path
def test_predictions_match_the_registry_predictor(store: Store, make_app: Callable[..., FastAPI], version: int) -> None:
    uri = f"models:/churn/{version}"
    predictor = store.client.load_model(uri)
    rows = store.x.head(7)
    with TestClient(make_app(uri)) as tc:
        assert tc.get("/model").json()["fast_path"] is True
        records = tc.post("/predict", json=rows.to_dict("records")).json()
        columns = tc.post("/predict", json=rows.to_dict("list")).json()
    np.testing.assert_allclose(records["probabilities"], predictor.predict_proba(rows), rtol=1e-12)
    np.testing.assert_allclose(records["predictions"], predictor.predict(rows), rtol=1e-12)
    assert columns["predictions"] == records["predictions"]
    assert (records["model"], records["version"], records["arm"]) == ("churn", version, "live")


def test_general_path_for_a_sklearn_pipeline_with_a_string_column(store: Store, make_app: Callable) -> None:
    rows = store.x.head(4).assign(plan=["pro", "free", "pro", "free"])
    predictor = store.client.load_model("models:/plans/1")
    with TestClient(make_app("models:/plans/1")) as tc:
        out = tc.post("/predict", json=rows.to_dict("records")).json()
        bad = tc.post("/predict", json=[{**rows.iloc[0].to_dict(), "plan": 3}])
        explain = tc.post("/explain", json=rows.to_dict("records"))
    assert out["predictions"] == predictor.predict(rows).tolist()
    np.testing.assert_allclose(out["probabilities"], predictor.predict_proba(rows))
    assert bad.status_code == 422 and bad.json()["field"] == "plan" and bad.json()["row"] == 0
    assert explain.status_code == 501 and "LightGBM or XGBoost" in explain.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "field", "row", "words"),
    [
        ([{"x0": 1.0}], 422, "x1", 0, "row 0 is missing field 'x1'"),
        ("WRONG_TYPE", 422, "x3", 1, "row 1 field 'x3' is a string"),
        (b'[{"x0": NaN}]', 422, None, None, "NaN"),
        (b"", 400, None, None, "body is empty"),
        (b"[{", 400, None, None, "not valid JSON"),
        (b"[]", 422, None, None, "empty list"),
        ("NULL_INT", 200, None, None, ""),  # float columns accept null as missing (LightGBM handles NaN)
    ],
)
def test_bad_requests_are_4xx_with_a_message(
    store: Store, make_app: Callable, body: object, status: int, field: str | None, row: int | None, words: str
) -> None:
    if body == "WRONG_TYPE":
        body = json.dumps([store.record(0), {**store.record(1), "x3": "high"}]).encode()
    elif body == "NULL_INT":
        body = json.dumps([{**store.record(0), "x2": None}]).encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    with TestClient(make_app()) as tc:
        r = tc.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    if status != 200:
        err = r.json()
        assert words in err["message"] and err["field"] == field and err["row"] == row
        assert err["error"] == "RequestError"


def test_oversized_body_is_413(store: Store, make_app: Callable) -> None:
    with TestClient(make_app(max_body_bytes=2_000)) as tc:
        r = tc.post("/predict", json=[store.record(i) for i in range(40)])
        chunked = tc.post("/predict", content=iter([b"[", b" " * 3_000, b"]"]))  # no content-length
    assert r.status_code == 413 and "over the limit of 2,000" in r.json()["message"]
    assert chunked.status_code == 413


def test_health_ready_model_metrics_and_request_ids(store: Store, make_app: Callable) -> None:
    app = make_app()
    with TestClient(app) as tc:
        assert tc.get("/health").json() == {"status": "ok"}
        assert tc.get("/ready").json() == {"status": "ready", "model": "churn", "version": 1}
        info = tc.get("/model").json()
        assert info["version"] == 1 and info["uri"] == "models:/churn@production"
        assert [c["name"] for c in info["signature"]["inputs"]] == FEATURES
        r = tc.post("/predict", json=[store.record()], headers={"X-Request-Id": "abc-123"})
        assert r.json()["request_id"] == "abc-123" == r.headers["x-request-id"]
        odd = tc.post("/predict", json=[store.record()], headers={"X-Request-Id": "no spaces allowed"})
        assert len(odd.json()["request_id"]) == 32
        tc.post("/predict", json=[{"x0": 1}])
        metrics = tc.get("/metrics").text
    assert 'assay_serving_requests_total{endpoint="/predict",status="200"} 2.0' in metrics
    assert 'assay_serving_requests_total{endpoint="/predict",status="422"} 1.0' in metrics
    assert 'assay_serving_predictions_total{arm="live"} 2.0' in metrics
    assert 'assay_serving_request_seconds_bucket{endpoint="/predict",le="+Inf"} 3.0' in metrics
    for name in ("assay_serving_in_flight", "assay_serving_log_queue_rows", "assay_serving_log_dropped_rows_total"):
        assert name in metrics
    assert not app.state.runtime.ready  # shut down by the lifespan
    log = read_prediction_log("churn", root=store.log_root)
    assert sorted(log["request_id"].iloc[:1]) == ["abc-123"] and len(log) == 2


def test_explain_lightgbm_contributions_add_up_and_reasons_come_back(store: Store, make_app: Callable) -> None:
    rows = [store.record(0), store.record(1)]
    with TestClient(make_app()) as tc:
        r = tc.post("/explain?k=2&favourable=high", json=rows)
        bad = tc.post("/explain?k=0", json=rows)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["method"] == "lightgbm-tree" and out["features"] == FEATURES
    total = np.asarray(out["contributions"]).sum(axis=1) + out["base_value"]
    np.testing.assert_allclose(total, out["raw_predictions"], rtol=1e-9)
    assert all(len(reasons) <= 2 for reasons in out["reasons"])
    assert bad.status_code == 422 and bad.json()["field"] == "k"


def test_bad_uris_and_settings_fail_before_serving(store: Store) -> None:
    with pytest.raises(NotFoundError):
        create_app("models:/churn@nowhere", client=store.client, log=False)
    with pytest.raises(InvalidInputError, match="canary_weight"):
        create_app("models:/churn/1", client=store.client, canary_weight=0.2, log=False)
    with pytest.raises(InvalidInputError, match="not understood"):
        create_app("churn", client=store.client, log=False)


def test_the_app_can_be_mounted_under_a_prefix(store: Store, make_app: Callable) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    parent = Starlette(routes=[Mount("/churn", app=make_app())])
    with TestClient(parent) as tc:
        out = tc.post("/churn/predict", json=[store.record()])
        metrics = tc.get("/churn/metrics").text
    assert out.status_code == 200 and out.json()["version"] == 1
    assert 'assay_serving_requests_total{endpoint="/predict",status="200"} 1.0' in metrics


def test_the_framework_route_answers_like_the_front_layer(store: Store, make_app: Callable) -> None:
    app = make_app()
    app.user_middleware.clear()  # without the ASGI front layer, FastAPI's own /predict route answers
    with TestClient(app) as tc:
        out = tc.post("/predict", json=[store.record()], headers={"X-Request-Id": "r1"})
        bad = tc.post("/predict", json=[{"x0": "a"}])
        big = tc.post("/predict", content=b"[" + b" " * 9_000_000 + b"]")
    fast = make_app(log=False)
    with TestClient(fast) as tc:
        expected = tc.post("/predict", json=[store.record()], headers={"X-Request-Id": "r1"}).json()
    assert out.status_code == 200 and out.json() == expected
    assert bad.status_code == 422 and bad.json()["field"] == "x1"
    assert big.status_code == 413
