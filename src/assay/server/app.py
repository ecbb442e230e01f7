"""The assay team server: the REST API under ``/api/v1`` (and the web UI when installed).

Example::

    from assay.server import create_app
    app = create_app(Client(store_url="postgresql+psycopg://db/assay"))   # then: uvicorn.run(app)

or from the shell: ``assay server --host 127.0.0.1 --port 5000``. The OpenAPI document is at
``/api/v1/openapi.json`` and the interactive docs at ``/api/v1/docs``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from fastapi import APIRouter, FastAPI

from assay import __version__
from assay.server import (
    routes_approvals,
    routes_datasets,
    routes_experiments,
    routes_governance,
    routes_logging,
    routes_models,
    routes_monitoring,
    routes_projects,
    routes_remote,
    routes_runs,
)
from assay.server.auth import ClientPool
from assay.server.errors import install_error_handlers
from assay.tracking.client import Client

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"

_ROUTERS = (
    routes_projects,
    routes_runs,
    routes_logging,
    routes_datasets,
    routes_models,
    routes_governance,
    routes_approvals,
    routes_monitoring,
    routes_experiments,
    routes_remote,
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"example": {"error": name, "message": "..."}}}}
    for status, text, name in (
        (400, "Bad input: the message says what to change", "InvalidInputError"),
        (401, "No or unknown API token on a multi-user store", "Unauthenticated"),
        (403, "The caller's role does not allow this", "PermissionDeniedError"),
        (404, "Unknown entity", "NotFoundError"),
        (409, "Conflicts with stored state", "ConflictError"),
        (422, "The request does not match the API's schema", "ValidationError"),
    )
}


def create_app(client: Client | None = None, *, ui: bool = True) -> FastAPI:
    """The server app on ``client``'s stores (default: the default client's settings).

    Each request acts as its own token (see :mod:`assay.server.auth`); ``client`` only names the stores.
    With ``ui=True`` and the web UI installed (``assay.server.ui.mount_ui``), the UI is mounted at ``/``.
    """
    if client is None:
        from assay._defaults import client_or_default

        client = client_or_default(None)
    app = FastAPI(
        title="assay",
        version=__version__,
        description="REST API of the assay team server: tracking, registry, governance, monitoring, experiments.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.assay_client = client
    app.state.assay_clients = ClientPool(client)
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=_ERRORS)
    for module in _ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    if ui and importlib.util.find_spec("assay.server.ui") is not None:
        from assay.server import ui as ui_package

        mount = getattr(ui_package, "mount_ui", None)
        if mount is not None:
            mount(app, client)
    return app
