"""The assay web UI: server-rendered pages (Jinja2), HTMX for in-place updates, Plotly charts.

Pages live under ``/ui``: projects and runs (filter, sort, columns, compare), models (card, gates, explanations,
fairness, lineage, approvals, alias history), monitoring (drift heat map, performance, alerts, incidents),
experiments (readout with a forest plot) and data (versions, profiles, contract results, schema diffs).
plotly.js comes from the installed ``plotly`` package and htmx is vendored (``static/htmx.min.js``, 0BSD):
nothing is fetched from the internet. Who may see and do what follows the store's users and roles
(:mod:`assay.server.auth`); on a multi-user store the browser logs in with an API token (an HttpOnly cookie).

Example::

    app = FastAPI()
    mount_ui(app, Client())        # create_app(client) does this for the assay server
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay.server.auth import ClientPool

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assay.tracking.client import Client

__all__ = ["mount_ui"]


def mount_ui(app: FastAPI, client: Client) -> None:
    """Add the UI's pages (``/ui/...``, and ``/`` redirecting there) to ``app``, acting on ``client``'s stores.

    The per-token clients are shared with the REST API through ``app.state.assay_clients`` (created here
    when the app has none yet).
    """
    from assay.server.ui import routes_data, routes_experiments, routes_home, routes_models, routes_ops, routes_runs

    if getattr(app.state, "assay_clients", None) is None:
        app.state.assay_clients = ClientPool(client)
    for module in (routes_home, routes_runs, routes_models, routes_ops, routes_experiments, routes_data):
        app.include_router(module.routes)
