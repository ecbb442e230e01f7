"""Reading runs: search with the ``search_runs`` filter grammar, one run, metric history, inputs, artifacts.

Example::

    GET /api/v1/runs?project=churn&filter=metrics.auc%20%3E%200.8&order_by=metrics.auc%20desc&limit=20
    GET /api/v1/runs/{run_id}/metrics/auc/history
    GET /api/v1/runs/{run_id}/artifact?path=model/model.txt
"""

from __future__ import annotations

import math
import mimetypes
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from assay.artifacts import safe_relative_path
from assay.errors import NotFoundError
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, page_of, paginate
from assay.store import runs as rq

__all__ = ["router", "runs_from_frame"]

router = APIRouter(tags=["runs"])


def runs_from_frame(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``search_runs`` rows as ``{run_id, project, name, status, start_time, end_time, user, params, metrics,
    tags}`` (params and tags a run lacks, and NaN metrics, are left out)."""
    groups = {g: [c for c in df.columns if c.startswith(g + ".")] for g in ("params", "metrics", "tags")}
    out = []
    for rec in df.to_dict("records"):
        item = {k: rec[k] for k in ("run_id", "project", "name", "status", "start_time", "end_time", "user")}
        for group, cols in groups.items():
            values = {c[len(group) + 1 :]: rec[c] for c in cols}
            if group == "metrics":
                item[group] = {k: v for k, v in values.items() if v is not None and not math.isnan(v)}
            else:
                item[group] = {k: v for k, v in values.items() if isinstance(v, str) and not pd.isna(v)}
        out.append(as_json(item))
    return out


def _scope(actor: Actor, conn: Any, projects: list[str] | None) -> list[int] | None:
    """Project ids to search: the named ones (each checked), else every project the caller may read."""
    if projects:
        for p in projects:
            actor.require("viewer", p, action=f"read runs of project {p!r}")
        return [rq.get_project_id(conn, p) for p in projects]
    if actor.identity.single_user or actor.identity.can("viewer", None):
        return None
    names = actor.visible_projects([p["name"] for p in queries.list_projects(conn)])
    return [rq.get_project_id(conn, p) for p in names]


@router.get("/runs", response_model=Page, summary="Search runs")
def search_runs(
    request: Request,
    actor: ActorDep,
    project: Annotated[list[str] | None, Query(description="Project name(s); default: every readable one.")] = None,
    filter: Annotated[str | None, Query(description="e.g. metrics.auc > 0.8 and params.model = 'lgbm'")] = None,
    order_by: Annotated[list[str] | None, Query(description="e.g. metrics.auc desc (repeatable)")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Runs matching ``filter`` (the grammar of ``assay.search_runs``), newest first unless ``order_by``."""
    c = actor.client
    c.flush()
    from assay.tracking.search import search_runs as search

    with c.db.read() as conn:
        ids = _scope(actor, conn, project)
        df = search(conn, project_ids=ids, filter=filter, order_by=order_by, limit=limit, offset=offset)
        total = queries.count_runs(conn, ids, filter)
    return page_of(request, runs_from_frame(df), total, limit, offset)


def _readable_run(actor: Actor, run_id: str) -> str:
    with actor.client.db.read() as conn:
        project = queries.project_of_run(conn, run_id)
    actor.require("viewer", project, action=f"read runs of project {project!r}")
    return project


@router.get("/runs/{run_id}", summary="Get a run")
def get_run(run_id: str, actor: ActorDep) -> dict[str, Any]:
    """Status, times, user, host, environment, params, latest metrics and tags of one run."""
    _readable_run(actor, run_id)
    info = actor.client.run_info(run_id)
    with actor.client.db.read() as conn:
        info["metric_keys"] = sorted(rq.metric_keys(conn, run_id))
    return as_json(info)


@router.get("/runs/{run_id}/metrics/{key}/history", response_model=Page, summary="Metric history")
def metric_history(
    request: Request, run_id: str, key: str, actor: ActorDep, limit: Limit = 1000, offset: Offset = 0
) -> Page:
    """Every logged point of one metric, in step order: ``{step, value, timestamp_ms}`` (NaN as null)."""
    _readable_run(actor, run_id)
    points = actor.client.metric_history(run_id, key)
    items = [{"step": s, "value": v, "timestamp_ms": t} for s, v, t in points]
    return paginate(request, items, limit, offset)


@router.get("/runs/{run_id}/inputs", summary="Datasets a run used")
def run_inputs(run_id: str, actor: ActorDep) -> list[dict[str, Any]]:
    """The dataset versions linked to the run, with their roles (train, test, ...)."""
    _readable_run(actor, run_id)
    return as_json(actor.client.run_inputs(run_id))


@router.get("/runs/{run_id}/artifacts", response_model=Page, summary="List artifacts")
def list_artifacts(
    request: Request,
    run_id: str,
    actor: ActorDep,
    prefix: Annotated[str | None, Query(max_length=1024, description="Only paths under this folder.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """The run's artifact files: path, digest, size."""
    _readable_run(actor, run_id)
    return paginate(request, actor.client.list_artifacts(run_id, prefix or None), limit, offset)


@router.get(
    "/runs/{run_id}/artifact",
    summary="Download an artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(
    run_id: str, actor: ActorDep, path: Annotated[str, Query(min_length=1, max_length=1024)]
) -> StreamingResponse:
    """The bytes of one artifact file (``path`` as listed by ``/artifacts``)."""
    _readable_run(actor, run_id)
    rel = safe_relative_path(path)
    found = {a["path"]: a for a in actor.client.list_artifacts(run_id)}
    if rel not in found:
        raise NotFoundError(f"run {run_id!r} has no artifact {rel!r}; list them at /api/v1/runs/{run_id}/artifacts")
    art = found[rel]
    handle = actor.client.artifacts.open(art["digest"])

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(1 << 20):
                yield block

    name = PurePosixPath(rel).name
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Content-Length": str(art["size"])}
    return StreamingResponse(chunks(), media_type=media, headers=headers)
