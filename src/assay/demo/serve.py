"""``assay demo --serve``: the team server (REST API and web UI) on the demo's store, on uvicorn.

Example::

    from assay.demo.serve import ui_url, serve
    ui_url("127.0.0.1", 5000)        # 'http://127.0.0.1:5000/ui/'
    serve(client, port=5000)         # blocks until Ctrl-C
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay.errors import InvalidInputError

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["serve", "ui_url"]


def ui_url(host: str = "127.0.0.1", port: int = 5000) -> str:
    """Where the web UI answers for a server on ``host:port`` (a wildcard host is shown as localhost).

    Example::

        ui_url("0.0.0.0", 8080)  # 'http://localhost:8080/ui/'
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInputError(f"The 'port' parameter must be an integer in 1..65535. Got {port!r}.")
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/ui/"


def serve(client: Client, *, host: str = "127.0.0.1", port: int = 5000, log_level: str = "info") -> None:
    """Run :func:`assay.server.create_app` on ``client``'s stores with uvicorn until interrupted."""
    import uvicorn

    from assay.server import create_app

    ui_url(host, port)  # validates the port
    uvicorn.run(create_app(client), host=host, port=port, log_level=log_level, timeout_keep_alive=30)
