"""Errors to HTTP, in one place: every failure answers JSON ``{"error": TYPE, "message": TEXT}``, never a traceback.

==========================================================  =======================================
error                                                       status
==========================================================  =======================================
``InvalidInputError`` (``FilterSyntaxError``, ...)           400
request body / query that fails validation (FastAPI)        422
``Unauthenticated`` (no or unknown token, multi-user)        401 (with ``WWW-Authenticate: Bearer``)
``PermissionDeniedError``, ``UntrustedModelError``           403
``NotFoundError``, unknown route                            404
``ConflictError``, ``StateError``                            409
``StoreError``, ``ArtifactStoreError``                       503 (the store, not the request, failed)
any other ``AssayError`` (``ConfigError`` ...)               400
anything unexpected                                         500 with a generic message (logged)
==========================================================  =======================================

Example::

    app = FastAPI()
    install_error_handlers(app)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.errors import (
    ArtifactStoreError,
    AssayError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
    StoreError,
    UntrustedModelError,
)

__all__ = ["Unauthenticated", "error_response", "install_error_handlers", "status_of"]

log = logging.getLogger("assay.server")


class Unauthenticated(PermissionDeniedError):
    """The request carries no token, or one the store does not accept, on a multi-user store (HTTP 401)."""


_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (Unauthenticated, 401),
    (InvalidInputError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (StateError, 409),
    (PermissionDeniedError, 403),
    (UntrustedModelError, 403),
    (StoreError, 503),
    (ArtifactStoreError, 503),
)


def status_of(exc: BaseException) -> int:
    """The HTTP status for an assay error (400 for any error not listed in the module table)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def error_response(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one JSON error shape of the API."""
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def _assay_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    name = "Unauthenticated" if status == 401 else type(exc).__name__
    return error_response(status, name, str(exc) or name, headers)


def _validation_message(errors: Any) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "the request is not valid"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "ValidationError", _validation_message(exc.errors()))


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    names = {401: "Unauthenticated", 403: "PermissionDeniedError", 404: "NotFoundError", 405: "MethodNotAllowed"}
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}; the API is described at /api/v1/openapi.json"
    return error_response(exc.status_code, names.get(exc.status_code, "HTTPError"), message, exc.headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "InternalError", "internal error: the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app`` (``create_app`` does this)."""
    app.add_exception_handler(AssayError, _assay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
