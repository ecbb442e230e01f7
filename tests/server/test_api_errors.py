"""The one error handler: every failure is ``{"error", "message"}`` JSON with the status of its type, and an
unexpected exception is a generic 500 that leaks neither its message nor a traceback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assay.errors import ConfigError, ConflictError, StoreError
from assay.server import create_app
from assay.server.errors import status_of
from assay.tracking.client import Client


@pytest.mark.parametrize(
    ("exc", "status"),
    [(StoreError("db down"), 503), (ConfigError("bad assay.toml"), 400), (ConflictError("clash"), 409)],
)
def test_status_of_assay_errors(exc: Exception, status: int) -> None:
    assert status_of(exc) == status


def test_unexpected_errors_are_a_generic_500_and_store_failures_503(store: Client) -> None:
    app = create_app(store, ui=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret connection string postgres://u:pw@db")

    @app.get("/store-down")
    def store_down() -> None:
        raise StoreError("the metadata store at db:5432 is unreachable")

    with TestClient(app, raise_server_exceptions=False) as api:
        got = api.get("/boom")
        assert got.status_code == 500
        assert got.json() == {"error": "InternalError", "message": "internal error: the server log has the details"}
        down = api.get("/store-down")
        assert down.status_code == 503 and down.json()["error"] == "StoreError"
        wrong_method = api.delete("/api/v1/runs")
        assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"error", "message"}
        not_json = api.post("/api/v1/runs", content=b"{not json", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 422 and not_json.json()["error"] == "ValidationError"
