"""``assay server``: run the team server (REST API under /api/v1, and the web UI when installed) on uvicorn.

Example::

    $ assay --store-url postgresql+psycopg://db/assay server --host 0.0.0.0 --port 5000
"""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.context import get_state

__all__ = ["server"]


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 5000,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Serve the web UI too (when installed).")] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (OpenAPI at /api/v1/docs) on the configured store; Ctrl-C stops it."""
    import uvicorn

    from assay.server import create_app

    state = get_state(ctx)
    app = create_app(state.client, ui=ui)

    typer.echo(f"assay server on http://{host}:{port} (API docs: http://{host}:{port}/api/v1/docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=30)
