"""Projects, the runs table (filter in the ``search_runs`` grammar, sort, column choice, server-side pages that
HTMX swaps in place), the run page and the side-by-side compare view with metric-history charts."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from assay.errors import InvalidInputError
from assay.server.ui import charts
from assay.server.ui._web import PREFIX, UiActor, is_htmx, page, router
from assay.server.ui.queries import run_keys
from assay.store import runs as rq

__all__ = ["parse_int", "routes"]

routes = router()
PAGE_SIZES = (25, 50, 100, 200)
MAX_COMPARE = 10
_MAX_CHARTS = 12


def parse_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query value within ``[low, high]``; a typed error saying what to send otherwise."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(f"'{name}' must be a whole number from {low} to {high}; got {value!r}") from None
    if not low <= number <= high:
        raise InvalidInputError(f"'{name}' must be a whole number from {low} to {high}; got {value!r}")
    return number


def _project_of(actor: Any, run_id: str) -> str:
    with actor.client.db.read() as conn:
        rq.get_run_row(conn, run_id)  # NotFoundError for an unknown id
        return rq.run_project(conn, run_id) or ""


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value in ("None", "nan"):
        return None
    return value


def _time(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


@routes.get(PREFIX + "/projects", response_class=HTMLResponse)
def projects(request: Request, actor: UiActor) -> HTMLResponse:
    c = actor.client
    names = actor.visible_projects(c.list_projects())
    with c.db.read() as conn:
        counts = {p: rq.count_runs(conn, rq.get_project_id(conn, p)) for p in names}
    return page(request, "projects.html", actor, projects=names, counts=counts)


@routes.get(PREFIX + "/projects/{project}", response_class=HTMLResponse)
def runs_table(
    request: Request,
    project: str,
    actor: UiActor,
    filter: str = "",
    order: str = "",
    col: Annotated[list[str] | None, Query()] = None,
    page_no: Annotated[str | None, Query(alias="page")] = None,
    size: str | None = None,
) -> HTMLResponse:
    """The runs of ``project``; an HTMX request gets only the table (filter, sort, page, columns swap in place)."""
    actor.require("viewer", project, action=f"read runs of project {project!r}")
    number = parse_int(page_no, "page", 1, 1, 10**9)
    per_page = parse_int(size, "size", 50, 1, max(PAGE_SIZES))
    c = actor.client
    with c.db.read() as conn:
        pid = rq.get_project_id(conn, project)
        keys = run_keys(conn, pid)
        total = None if filter.strip() else rq.count_runs(conn, pid)
    choosable = [f"{e}.{k}" for e in ("metrics", "params", "tags") for k in keys[e]]
    columns = [x for x in (col or []) if x in choosable] if col else (
        [f"metrics.{k}" for k in keys["metrics"][:4]] + [f"params.{k}" for k in keys["params"][:3]]
    )  # fmt: skip
    frame = c.search_runs(project=project, filter=filter.strip() or None, order_by=[order] if order.strip() else None,
                          limit=per_page + 1, offset=(number - 1) * per_page)  # fmt: skip
    has_next = len(frame) > per_page
    frame = frame.head(per_page)
    rows = [
        {
            "run_id": r["run_id"],
            "name": r["name"],
            "status": r["status"],
            "start": _time(r["start_time"]),
            "user": r["user"],
            "cells": [_cell(r[x]) if x in frame.columns else None for x in columns],
        }
        for r in frame.to_dict("records")
    ]
    state = {"filter": filter, "order": order, "size": str(per_page), "col": columns}

    def link(**changes: Any) -> str:
        query = {**state, **changes}
        pairs = [(k, v) for k, v in query.items() if k != "col" and v not in ("", None)]
        pairs += [("col", x) for x in query["col"]]
        return f"{PREFIX}/projects/{project}?{urlencode(pairs)}"

    def sort_link(column: str) -> str:
        return link(order=f"{column} asc" if order == f"{column} desc" else f"{column} desc", page=1)

    context = {
        "project": project,
        "rows": rows,
        "columns": columns,
        "choosable": choosable,
        "filter": filter,
        "order": order,
        "page_no": number,
        "size": per_page,
        "sizes": PAGE_SIZES,
        "total": total,
        "pages": None if total is None else max(1, math.ceil(total / per_page)),
        "has_next": has_next,
        "link": link,
        "sort_link": sort_link,
        "first": (number - 1) * per_page + 1,
    }
    if is_htmx(request):
        response = page(request, "_runs_table.html", actor, oob=True, **context)  # oob: the form keeps the sort
    else:
        response = page(request, "runs.html", actor, **context)
    response.headers["Vary"] = "HX-Request"  # one URL, two bodies: caches must tell them apart
    return response


@routes.get(PREFIX + "/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, actor: UiActor) -> HTMLResponse:
    """One run: attributes, params, metrics (with their history where there is one), tags, inputs, artifacts."""
    project = _project_of(actor, run_id)
    actor.require("viewer", project, action=f"read runs of project {project!r}")
    c = actor.client
    info = c.run_info(run_id)
    histories = {k: c.metric_history(run_id, k) for k in sorted(info["metrics"])[:_MAX_CHARTS]}
    chart_html = [
        charts.line_chart(key, {key: [(step, value) for step, value, _ in points]}, x_title="step", height=260)
        for key, points in histories.items()
        if len(points) > 1
    ]
    return page(request, "run.html", actor, info=info, project=project, inputs=c.run_inputs(run_id),
                artifacts=c.list_artifacts(run_id), charts=chart_html, start=_time(info["start_time"]),
                end=_time(info["end_time"]))  # fmt: skip


@routes.get(PREFIX + "/compare", response_class=HTMLResponse)
def compare(request: Request, actor: UiActor, run: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
    """Runs side by side: params (differences marked), latest metrics, and one history chart per metric."""
    ids = list(dict.fromkeys(run or []))
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise InvalidInputError(f"select 2 to {MAX_COMPARE} runs to compare (tick them in the runs table); "
                                f"got {len(ids)}")  # fmt: skip
    c = actor.client
    infos = []
    for run_id in ids:
        project = _project_of(actor, run_id)
        actor.require("viewer", project, action=f"read runs of project {project!r}")
        infos.append(c.run_info(run_id))
    labels = [f"{i['name']} ({i['run_id'][:8]})" for i in infos]

    def table(entity: str) -> list[dict[str, Any]]:
        keys = sorted({k for i in infos for k in i[entity]})
        out = []
        for k in keys:
            values = [i[entity].get(k) for i in infos]
            shown = {repr(v) for v in values}
            out.append({"key": k, "values": values, "differs": len(shown) > 1})
        return out

    metric_keys = sorted({k for i in infos for k in i["metrics"]})[:_MAX_CHARTS]
    chart_html = []
    for key in metric_keys:
        series = {
            label: [(step, value) for step, value, _ in c.metric_history(i["run_id"], key)]
            for label, i in zip(labels, infos, strict=True)
            if key in i["metrics"]
        }
        chart_html.append(charts.line_chart(key, series, x_title="step", height=280))
    return page(request, "compare.html", actor, infos=infos, labels=labels, params=table("params"),
                metrics=table("metrics"), tags=table("tags"), charts=chart_html)  # fmt: skip
