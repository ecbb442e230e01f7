"""Login by API token, logout, the overview page and plotly.js / htmx served from the installed packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import plotly
from fastapi import Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from assay.experiments.persist import list_experiments
from assay.monitoring.incidents import list_incidents
from assay.server.auth import TOKEN_COOKIE, resolve_actor
from assay.server.errors import Unauthenticated
from assay.server.ui._web import PREFIX, SameOrigin, UiActor, back, page, router
from assay.store import runs as rq

__all__ = ["routes"]

routes = router()
_STATIC = Path(__file__).parent / "static"
_PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
_CACHE = {"Cache-Control": "public, max-age=86400"}


@routes.get(PREFIX + "/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package: the UI fetches nothing from the internet."""
    return FileResponse(_PLOTLY_JS, media_type="text/javascript", headers=_CACHE)


@routes.get(PREFIX + "/static/{name}")
def static(name: str) -> Response:
    files = {p.name: p for p in _STATIC.iterdir() if p.is_file()}
    if name not in files:
        return Response("not found", status_code=404, media_type="text/plain")
    kind = "text/css" if name.endswith(".css") else "text/javascript" if name.endswith(".js") else "text/plain"
    return FileResponse(files[name], media_type=kind, headers=_CACHE)


def _safe_next(target: str | None) -> str:
    """Only a path on this server (``/ui/...``) is a place to go after login: never another site."""
    if not target or not target.startswith(PREFIX) or target.startswith("//") or "\\" in target:
        return PREFIX + "/"
    return target


@routes.get(PREFIX + "/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, next=_safe_next(next), error=None)


@routes.post(PREFIX + "/login", dependencies=[SameOrigin])
def login(request: Request, token: Annotated[str, Form()] = "", next: Annotated[str | None, Form()] = None) -> Response:
    """Check the token against the store; on success keep it in an HttpOnly cookie and go on."""
    pool = request.app.state.assay_clients
    token = token.strip()
    try:
        if not token:
            raise Unauthenticated("paste an API token (an admin creates one with `assay tokens create USER`)")
        resolve_actor(pool.get(token), token)
    except Unauthenticated as exc:
        return page(request, "login.html", None, status_code=401, next=_safe_next(next), error=str(exc))
    response = RedirectResponse(_safe_next(next), status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")
    return response


@routes.post(PREFIX + "/logout", dependencies=[SameOrigin])
def logout() -> Response:
    response = back(PREFIX + "/login")
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@routes.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/", status_code=307)


@routes.get(PREFIX + "/", response_class=HTMLResponse)
def home(request: Request, actor: UiActor) -> HTMLResponse:
    """What is there: projects with run counts, models, experiments, open incidents."""
    c = actor.client
    projects = actor.visible_projects(c.list_projects())
    with c.db.read() as conn:
        counts = {p: rq.count_runs(conn, rq.get_project_id(conn, p)) for p in projects}
    models = c.registry.list_models() if actor.can("viewer", None) else []
    experiments = list_experiments(c) if actor.can("viewer", None) else []
    incidents = [i for i in list_incidents(client=c) if i.state != "resolved"] if actor.can("viewer", None) else []
    return page(request, "home.html", actor, projects=projects, counts=counts, models=models,
                experiments=experiments, incidents=incidents)  # fmt: skip
