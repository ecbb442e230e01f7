"""``assay serve MODEL_URI``: put a registered model online (FastAPI on uvicorn).

Example::

    $ assay serve models:/churn@production --port 8080
    $ assay serve models:/churn@production --workers 4 --canary models:/churn/4 --canary-weight 0.1
    $ assay serve models:/churn@production --shadow models:/churn/5 --max-concurrency 32

Endpoints: ``POST /predict``, ``POST /explain``, ``GET /health``, ``GET /ready``, ``GET /metrics``, ``GET /model``
(see :mod:`assay.serving.app`). Ctrl-C (SIGINT) or SIGTERM shut down gracefully: requests in flight finish and
the prediction log is flushed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from assay.cli.context import get_state
from assay.serving.config import ENV_VAR, ServingConfig

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    model_uri: Annotated[str, typer.Argument(help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model.")],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (each loads the model).")] = 1,
    canary: Annotated[str | None, typer.Option("--canary", help="Canary version URI.", metavar="URI")] = None,
    canary_weight: Annotated[float, typer.Option("--canary-weight", help="Share of keys sent to the canary.")] = 0.0,
    canary_salt: Annotated[str | None, typer.Option("--canary-salt", help="Salt of the canary split.")] = None,
    shadow: Annotated[str | None, typer.Option("--shadow", help="Shadow version URI.", metavar="URI")] = None,
    key_field: Annotated[
        str | None, typer.Option("--key-field", help="Record field that routes canary traffic (e.g. customer_id).")
    ] = None,
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", min=1, help="Requests handled at once per worker; past it: 503.")
    ] = 64,
    reload_interval: Annotated[
        float, typer.Option("--reload-interval", min=0, help="Seconds between alias checks (0: never).")
    ] = 5.0,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Largest request body.")] = 8388608,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not write the prediction log.")] = False,
    log_root: Annotated[
        str | None, typer.Option("--log-root", help="Where the prediction log goes (default: artifact store).")
    ] = None,
    trusted: Annotated[bool, typer.Option("--trusted", help="Allow loading pickled models.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (slower).")] = False,
) -> None:
    """Serve a model over HTTP: predictions, explanations, health, readiness and Prometheus metrics."""
    import uvicorn

    config = ServingConfig(
        model_uri,
        canary_uri=canary,
        canary_weight=canary_weight,
        canary_salt=canary_salt,
        shadow_uri=shadow,
        key_field=key_field,
        max_concurrency=max_concurrency,
        reload_interval_s=reload_interval,
        max_body_bytes=max_body_bytes,
        log=not no_log,
        log_root=log_root,
        trusted=trusted,
    )
    state = get_state(ctx)
    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        from assay.serving.app import create_app, tune_process

        app = create_app(config, client=state.client)
        tune_process()
        typer.echo(f"{config.summary()} Listening on http://{host}:{port}", err=True)
        uvicorn.run(app, **common)
        return
    for uri in (config.model_uri, config.canary_uri, config.shadow_uri):  # fail here, not in N workers
        if uri is not None:
            state.client.registry.resolve(uri)
    settings = state.settings()
    os.environ[ENV_VAR] = config.to_json()
    os.environ["ASSAY_HOME"] = str(settings.home)
    os.environ["ASSAY_STORE_URL"] = settings.store_url
    os.environ["ASSAY_ARTIFACTS_URL"] = settings.artifacts_url
    with tempfile.TemporaryDirectory(prefix="assay-serve-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        typer.echo(f"{config.summary()} {workers} workers on http://{host}:{port}", err=True)
        uvicorn.run("assay.serving.app:app_from_env", factory=True, workers=workers, **common)
