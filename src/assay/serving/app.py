"""The online inference app: FastAPI over a :class:`~assay.serving.runtime.ServingRuntime`.

==================  ==========================================================================================
endpoint            answer
==================  ==========================================================================================
``POST /predict``   records ``[{...}]`` or columns ``{"col": [...]}`` → predictions (+ probabilities), model,
                    version, arm, request id; 422 naming the field and row, 400 for an empty or malformed
                    body, 413 past ``max_body_bytes``, 503 + ``Retry-After`` past ``max_concurrency``
``POST /explain``   same body → exact per-feature contributions and reason codes (LightGBM / XGBoost; 501 for
                    other models)
``GET /health``     200 while the process runs; ``GET /ready``: 200 when a warmed-up model serves, else 503
``GET /metrics``    Prometheus text (see :mod:`assay.serving.metrics`); ``GET /model``: versions, signature
==================  ==========================================================================================

The request path is kept lean: the body is parsed with the standard ``json`` module, checked field by field
in Python, scored inline on the event loop (a single LightGBM row takes tens of microseconds, less than a
thread hop; requests over ``inline_rows`` rows go to a worker thread), and the prediction-log record is a
tuple appended to a bounded queue. A pure ASGI front layer counts requests, applies the concurrency bound
and times every answer.

Example::

    app = create_app("models:/churn@production", canary_uri="models:/churn/4", canary_weight=0.1)
    uvicorn.run(app, port=8080)
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from assay.errors import AssayError, NotFoundError, PermissionDeniedError, StateError
from assay.serving._inputs import Batch, RequestError, parse_json
from assay.serving.config import ENV_VAR, ServingConfig
from assay.serving.metrics import ENDPOINTS
from assay.serving.runtime import ServingRuntime

__all__ = ["app_from_env", "create_app", "tune_process"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON = "application/json"
_KIND_SCHEMA = {
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "category": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "error": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "row": {"type": ["integer", "null"]},
    },
    "required": ["message", "error"],
}


def create_app(model_uri: str | ServingConfig, *, client: Any = None, **settings: Any) -> FastAPI:
    """A FastAPI app serving ``model_uri`` (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/...``).

    ``settings`` are :class:`~assay.serving.config.ServingConfig` fields (``canary_uri``, ``canary_weight``,
    ``shadow_uri``, ``max_concurrency``, ``reload_interval_s``, ``log_root``, ...), or pass a config. The model
    is loaded and warmed up here, so a bad URI fails before a port is opened. ``app.state.runtime`` holds the
    :class:`~assay.serving.runtime.ServingRuntime`; shutting the app down (lifespan) flushes the prediction log.

    Example::

        app = create_app("models:/churn@production", max_concurrency=32)
    """
    from assay._defaults import client_or_default

    if isinstance(model_uri, ServingConfig) and settings:
        raise StateError("pass either a ServingConfig or keyword settings, not both")
    config = model_uri if isinstance(model_uri, ServingConfig) else ServingConfig(model_uri, **settings)
    runtime = ServingRuntime(config, client_or_default(client))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(runtime.close)

    live = runtime.models["live"]
    assert live is not None
    app = FastAPI(
        title=f"assay model server: {live.name}",
        version=str(live.version),
        description=config.summary(),
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    _add_routes(app, runtime, _body_schema(live))
    _add_error_handlers(app, runtime)
    app.add_middleware(_Front, runtime=runtime)
    return app


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes: the config comes from ``$ASSAY_SERVE_CONFIG`` (JSON)."""
    text = os.environ.get(ENV_VAR)
    if not text:
        raise StateError(f"${ENV_VAR} is not set; start the server with `assay serve MODEL_URI`")
    app = create_app(ServingConfig.from_json(text))
    tune_process()
    return app


def tune_process() -> None:
    """Process settings for a dedicated server process (``assay serve`` calls this; an embedding app need not).

    * ``gc.freeze()`` once the model is loaded: the ~250,000 objects of the loaded libraries leave the collector's
      view, so a full collection takes microseconds instead of ~100 ms (a p99 spike otherwise);
    * a 1 ms GIL switch interval (default 5 ms): while the prediction-log writer or the shadow thread runs Python
      code, the event loop gets the interpreter back within 1 ms.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


# -- routes ----------------------------------------------------------------------------------------------------


def _add_routes(app: FastAPI, rt: ServingRuntime, body_schema: dict[str, Any]) -> None:
    config = rt.config
    body_doc = {"requestBody": {"required": True, "content": {_JSON: {"schema": body_schema}}}}
    errors = {
        code: {"description": why, "content": {_JSON: {"schema": _ERROR_SCHEMA}}}
        for code, why in (
            (400, "Empty or malformed body"),
            (413, "Body too large"),
            (422, "Input does not match the signature"),
            (503, "Overloaded: retry after Retry-After seconds"),
        )
    }

    @app.post("/predict", openapi_extra=body_doc, responses=errors, summary="Score records or columns")
    async def predict(request: Request) -> Response:
        # Normally answered by the ASGI front layer (same core, less overhead); kept for mounting and docs.
        t0 = time.perf_counter()
        body = await _read_body(request, config.max_body_bytes)
        request_id = _request_id(request.headers.get("x-request-id"))
        out = await predict_core(rt, body, request_id, request.headers.get("x-request-key"), t0)
        return Response(out, media_type=_JSON, headers={"x-request-id": request_id})

    @app.post("/explain", openapi_extra=body_doc, responses=errors, summary="Contributions and reason codes")
    async def explain(
        request: Request,
        k: int = Query(4, ge=1, le=50, description="Reasons per row"),
        favourable: str = Query("low", pattern="^(low|high)$", description="Which end of the output is good"),
    ) -> Response:
        request_id = _request_id(request.headers.get("x-request-id"))
        payload = parse_json(await _read_body(request, config.max_body_bytes))
        model = rt.models["live"]
        assert model is not None
        if not model.explainable:
            return _error(
                501,
                "NotSupported",
                f"explanations over HTTP need exact tree contributions (LightGBM or XGBoost); {model.label} is a "
                f"{model.predictor.flavor.model_class}. Explain it offline with assay.governance.explain and a "
                "background sample.",
            )
        batch = model.schema.batch(payload)
        result = await run_in_threadpool(_explain, model, batch, k, favourable)
        result.update(request_id=request_id, model=model.name, version=model.version)
        return Response(json.dumps(result).encode(), media_type=_JSON, headers={"x-request-id": request_id})

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness", responses={503: {"description": "Not ready (starting or draining)"}})
    async def ready() -> Response:
        live = rt.models["live"]
        if not rt.ready or live is None:
            return _error(503, "NotReady", "the server is starting or shutting down")
        body = {"status": "ready", "model": live.name, "version": live.version}
        return Response(json.dumps(body).encode(), media_type=_JSON)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        rt.sync_metrics()
        return Response(rt.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/model", summary="Served versions, signature, canary and shadow")
    async def model_info() -> dict[str, Any]:
        arms = {arm: m.describe() for arm, m in rt.models.items() if m is not None}
        canary = None
        if rt.spec is not None:
            canary = {
                "uri": config.canary_uri,
                "weight": config.canary_weight,
                "assignment": rt.spec.to_dict(),
                "key": config.key_field or "X-Request-Key header, else the request id",
            }
        return {
            "uri": config.model_uri,
            **arms["live"],
            "arms": arms,
            "canary": canary,
            "shadow": config.shadow_uri,
            "max_concurrency": config.max_concurrency,
            "reload_interval_s": config.reload_interval_s,
        }


async def predict_core(rt: ServingRuntime, body: bytes, request_id: str, header_key: str | None, t0: float) -> bytes:
    """Score one request body; returns the JSON answer. Raises :class:`RequestError` for bad input."""
    ts = time.time()
    config = rt.config
    payload = parse_json(body)
    key = header_key if header_key is not None else _key_of(payload, config.key_field)
    arm, model = rt.route(request_id if key is None else key)
    batch = model.schema.batch(payload)
    if batch.n > config.inline_rows:
        scored = await run_in_threadpool(model.score, batch, threads=0)
    else:
        scored = model.score(batch)
    latency_ms = (time.perf_counter() - t0) * 1000.0
    ids = _ids(batch, request_id, header_key)
    rt.metrics.rows(arm, batch.n)
    rt.record((request_id, ts, model.name, model.version, arm, latency_ms, batch, scored, ids))
    if arm == "live":
        rt.shadow(request_id, ts, batch, ids)
    out: dict[str, Any] = {
        "request_id": request_id,
        "model": model.name,
        "version": model.version,
        "arm": arm,
        "predictions": scored.predictions,
    }
    if scored.probabilities is not None:
        out["probabilities"] = scored.probabilities
    return json.dumps(out).encode()


def _explain(model: Any, batch: Batch, k: int, favourable: str) -> dict[str, Any]:
    from assay.governance.explain import explain
    from assay.governance.reasons import reason_codes
    from assay.serving.model import _plain

    exp = explain(model.predictor, batch.frame(), method="tree")
    codes = reason_codes(exp, k=k, favourable=favourable)
    reasons = [
        [{"code": r.code, "feature": r.feature, "phrase": r.phrase, "contribution": r.contribution} for r in row]
        for row in codes.reasons
    ]
    return {
        "method": exp.method,
        "output": exp.output,
        "base_value": exp.base_value,
        "features": list(exp.features),
        "contributions": _plain(exp.contributions),
        "raw_predictions": _plain(exp.predictions),
        "reasons": reasons,
    }


# -- request helpers ----------------------------------------------------------------------------------------------


def _request_id(given: str | None) -> str:
    return given if given and _REQUEST_ID.match(given) else os.urandom(16).hex()


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(f"the body is {int(length):,} bytes, over the limit of {limit:,}; split it", status=413)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the body is over the limit of {limit:,} bytes; split it", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive_body(receive: Any, limit: int) -> bytes | None:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the body is over the limit of {limit:,} bytes; split it", status=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _key_of(payload: Any, field: str | None) -> Any:
    if field is None:
        return None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return payload[0].get(field)
    if isinstance(payload, dict):
        value = payload.get(field)
        return value[0] if isinstance(value, list) and value else value
    return None


def _ids(batch: Batch, request_id: str, header_key: str | None) -> list[str]:
    if batch.keys is not None and len(batch.keys) == batch.n:
        return [f"{request_id}:{i}" if key is None else str(key) for i, key in enumerate(batch.keys)]
    base = header_key or request_id
    return [base] if batch.n == 1 else [f"{base}:{i}" for i in range(batch.n)]


def _error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else None
    return JSONResponse({"message": message, "error": kind, **extra}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI, rt: ServingRuntime) -> None:
    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return _error(422, "InvalidInputError", f"parameter '{where}': {first.get('msg', 'invalid')}", field=where)

    @app.exception_handler(AssayError)
    async def assay_error(_: Request, exc: AssayError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError) else 403 if isinstance(exc, PermissionDeniedError) else 422
        field = getattr(exc, "column", None)
        return _error(status, type(exc).__name__, str(exc), field=field)


def _body_schema(model: Any) -> dict[str, Any]:
    """OpenAPI schema of the request body: records or columns of the live model's signature."""
    schema = model.schema
    if schema.signature is None:
        return {"anyOf": [{"type": "array", "items": {"type": "object"}, "minItems": 1}, {"type": "object"}]}
    props = {}
    for name, kind in zip(schema.names, schema.kinds, strict=True):
        spec = dict(_KIND_SCHEMA[kind])
        if schema.allow_missing and kind not in ("integer", "boolean"):
            spec["type"] = [spec["type"], "null"]
        props[name] = spec
    record = {"type": "object", "properties": props, "required": list(schema.names)}
    columns = {
        "type": "object",
        "properties": {n: {"type": "array", "items": p, "minItems": 1} for n, p in props.items()},
        "required": list(schema.names),
    }
    return {"anyOf": [{"type": "array", "items": record, "minItems": 1, "maxItems": 100}, columns]}


# -- ASGI front layer ---------------------------------------------------------------------------------------------


class _Front:
    """Pure ASGI middleware: concurrency bound (503 + Retry-After), in-flight gauge, request metrics."""

    def __init__(self, app: Any, runtime: ServingRuntime) -> None:
        self.app = app
        self.rt = runtime
        self.limit = runtime.config.max_concurrency
        self.retry_after = str(runtime.config.retry_after_s).encode()
        self.in_flight = 0
        self.known = set(ENDPOINTS)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted under a prefix
            path = path[len(root) :]
        endpoint = path if path in self.known else "other"
        metrics = self.rt.metrics
        t0 = time.perf_counter()
        bounded = endpoint in ("/predict", "/explain")
        if bounded and self.in_flight >= self.limit:
            await self._reject(send)
            metrics.observe(endpoint, 503, time.perf_counter() - t0)
            return
        status = 500
        if bounded:
            self.in_flight += 1
            metrics.in_flight.inc()

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if endpoint == "/predict" and scope["method"] == "POST":
                status = await self._predict(scope, receive, send, t0)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            if bounded:
                self.in_flight -= 1
                metrics.in_flight.dec()
            metrics.observe(endpoint, status, time.perf_counter() - t0)

    async def _predict(self, scope: dict[str, Any], receive: Any, send: Any, t0: float) -> int:
        """POST /predict without the framework's routing, dependency and response machinery."""
        given_id = key = length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given_id = value.decode("latin-1")
            elif name == b"x-request-key":
                key = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        request_id = _request_id(given_id)
        limit = self.rt.config.max_body_bytes
        try:
            if length is not None and length.isdigit() and int(length) > limit:
                raise RequestError(
                    f"the body is {int(length):,} bytes, over the limit of {limit:,}; split it", status=413
                )
            body = await _receive_body(receive, limit)
            if body is None:  # the client went away
                return 499
            status, out = 200, await predict_core(self.rt, body, request_id, key, t0)
        except RequestError as exc:
            status, out = exc.status, json.dumps(exc.to_dict()).encode()
        except AssayError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 422
            err = {"message": str(exc), "error": type(exc).__name__, "field": getattr(exc, "column", None)}
            out = json.dumps(err).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(out)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})
        return status

    async def _reject(self, send: Any) -> None:
        body = json.dumps(
            {
                "message": f"the server is handling {self.limit} requests already; retry after "
                f"{self.retry_after.decode()} s",
                "error": "Overloaded",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", self.retry_after),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
