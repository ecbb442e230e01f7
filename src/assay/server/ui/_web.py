"""The UI's plumbing: templates, the acting user of a page, HTML error pages, and the same-origin check on forms.

Every UI route is registered through :func:`router` so that an assay error raised by a page (or by the
capability it calls) becomes an HTML page with the status of :func:`assay.server.errors.status_of` (never a
traceback), and an unauthenticated browser on a multi-user store is sent to the login page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from assay.errors import AssayError, PermissionDeniedError
from assay.server.auth import Actor, get_actor
from assay.server.errors import Unauthenticated, status_of

__all__ = ["PREFIX", "UiActor", "page", "router", "same_origin", "templates"]

PREFIX = "/ui"
_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(_HERE / "templates"))


def _when(ms: int | float | None) -> str:
    """Epoch milliseconds as ``2026-11-01 14:05`` (UTC)."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "–"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def _num(value: Any, digits: int = 4) -> str:
    """A number for a table cell: ``–`` for missing, NaN or infinite, else ``digits`` significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "–" if math.isnan(number) else ("+∞" if number > 0 else "−∞")
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.{digits}g}"


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value) * 100:+.{digits}f}%"


templates.env.filters["when"] = _when
templates.env.filters["num"] = _num
templates.env.filters["pct"] = _pct
templates.env.globals["prefix"] = PREFIX
templates.env.globals["quote"] = quote


class _NeedsLogin(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class _UiRoute(APIRoute):
    """Turns assay errors into HTML pages (status from the API's table) and unknown users into a login redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except _NeedsLogin as exc:
                if request.method == "GET" and "hx-request" not in request.headers:
                    target = f"{PREFIX}/login?next={quote(request.url.path + _query(request))}"
                    return RedirectResponse(target, status_code=303)
                return error_page(request, 401, "Log in first", str(exc))
            except AssayError as exc:
                status = status_of(exc)
                titles = {400: "Check the input", 403: "Not allowed", 404: "Not found", 409: "Not possible now"}
                return error_page(request, status, titles.get(status, "Error"), str(exc))

        return route


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""


def router() -> APIRouter:
    """A router whose pages render errors as HTML (see the module docstring)."""
    return APIRouter(route_class=_UiRoute, include_in_schema=False)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """The error page (or, for an HTMX swap, just the message box)."""
    name = "_error_box.html" if "hx-request" in request.headers else "error.html"
    return templates.TemplateResponse(
        request, name, {"title": title, "message": message, "status": status, "actor": None}, status_code=status
    )


def ui_actor(request: Request) -> Actor:
    """The acting user of a page: the API's :func:`~assay.server.auth.get_actor` (cookie ``assay_token`` or
    ``Authorization: Bearer``), with a refused or missing token sending the browser to the login page."""
    try:
        return get_actor(request)
    except Unauthenticated as exc:
        raise _NeedsLogin(str(exc)) from None


UiActor = Annotated[Actor, Depends(ui_actor)]


def same_origin(request: Request) -> None:
    """Refuse a form post sent from another site (the login cookie would otherwise ride along): the
    ``Origin`` (or ``Referer``) header, when the browser sends one, must name this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return
    if urlsplit(origin).netloc != request.url.netloc:
        raise PermissionDeniedError(f"a form from {origin} cannot act on this server; use the pages it serves")


SameOrigin = Depends(same_origin)


def page(request: Request, template: str, actor: Actor | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the acting user and ``context``."""
    return templates.TemplateResponse(request, template, {"actor": actor, **context}, status_code=status_code)


def is_htmx(request: Request) -> bool:
    return "hx-request" in request.headers and "hx-history-restore-request" not in request.headers


def back(url: str) -> RedirectResponse:
    """After a form post: see the result on ``url`` (303, so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)
