"""Writing runs: create, log a batch of metrics/params/tags, upload artifacts, set tags, end and resume.

``POST /api/v1/runs/{run_id}/batch`` is the one call a remote client needs per flush of its buffer: metrics,
params and tags in one request and one store transaction, answered once they are durable. A client keeps one
keep-alive connection and sends a batch every few hundred milliseconds, so logging never waits on the network
per point. Params are immutable (a re-logged different value is 409 and nothing of the batch is written);
logging to a run that has ended is 409 (resume it first).

Example::

    POST /api/v1/runs/{run_id}/batch
    {"metrics": [{"key": "loss", "value": 0.31, "step": 7}], "params": {"lr": 0.1}, "tags": {"stage": "cv"}}
"""

from __future__ import annotations

import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assay.artifacts import safe_relative_path
from assay.errors import InvalidInputError, StateError
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import as_json
from assay.store import runs as rq

__all__ = ["router"]

router = APIRouter(tags=["runs"])

Scalar = str | int | float | bool | None
Key = Annotated[str, Field(min_length=1, max_length=255)]
_MAX_STEP = 2**62


class MetricPointIn(BaseModel):
    key: Key
    value: float | None = Field(description="The value; null for NaN.")
    step: int = Field(0, ge=-_MAX_STEP, le=_MAX_STEP)
    timestamp: float | None = Field(None, ge=0, le=1e11, description="Seconds since the epoch; default now.")


class BatchIn(BaseModel):
    metrics: list[MetricPointIn] = Field(default_factory=list, max_length=200_000)
    params: dict[Key, Scalar] = Field(default_factory=dict)
    tags: dict[Key, Scalar] = Field(default_factory=dict)


class RunIn(BaseModel):
    project: Key = "default"
    name: Key | None = None
    tags: dict[Key, Scalar] = Field(default_factory=dict)
    parent_run_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class TagsIn(BaseModel):
    tags: dict[Key, Scalar]


class EndIn(BaseModel):
    status: Literal["finished", "failed", "killed"] = "finished"


def _text(value: Scalar) -> str:
    return value if isinstance(value, str) else str(value)


def _writable_project(actor: Actor, run_id: str, what: str) -> str:
    with actor.client.db.read() as conn:
        project = queries.project_of_run(conn, run_id)
    actor.require("scientist", project, action=f"{what} in project {project!r}")
    return project


@router.post("/runs", status_code=201, summary="Create a run")
def create_run(body: RunIn, actor: ActorDep) -> dict[str, Any]:
    """Start a run (status ``running``) in ``project``, created if new; scientist role in the project."""
    actor.require("scientist", body.project, action=f"start runs in project {body.project!r}")
    tags = {k: _text(v) for k, v in body.tags.items()}
    run = actor.client.start_run(body.project, body.name, tags, parent_run_id=body.parent_run_id, capture_env=False)
    return as_json(actor.client.run_info(run.id))


@router.post("/runs/{run_id}/batch", summary="Log a batch of metrics, params and tags")
def log_batch(run_id: Annotated[str, Path(max_length=64)], body: BatchIn, actor: ActorDep) -> dict[str, int]:
    """Write every metric point, param and tag of the batch in one transaction (all or nothing)."""
    _writable_project(actor, run_id, "log to runs")
    now = rq.now_ms()
    points = [
        (run_id, m.key, float("nan") if m.value is None else m.value, m.step,
         now if m.timestamp is None else int(m.timestamp * 1000))
        for m in body.metrics
    ]  # fmt: skip
    params = {k: _text(v) for k, v in body.params.items()}
    tags = {k: _text(v) for k, v in body.tags.items()}

    def write(conn: Any) -> None:
        row = rq.get_run_row(conn, run_id)
        if row.status != "running" and (points or params):
            raise StateError(f"run {run_id} is {row.status}; resume it (POST .../resume) before logging to it")
        rq.insert_params(conn, run_id, params)
        rq.upsert_tags(conn, run_id, tags)
        rq.insert_metrics(conn, points)

    actor.client.db.retrying_write(write)
    return {"metrics": len(points), "params": len(params), "tags": len(tags)}


MAX_UPLOAD = 1 << 30


@router.put(
    "/runs/{run_id}/artifact",
    summary="Upload an artifact",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}},
)  # fmt: skip
async def upload_artifact(
    request: Request,
    run_id: Annotated[str, Path(max_length=64)],
    path: Annotated[str, Query(min_length=1, max_length=1024, description="Where in the run, e.g. plots/roc.png")],
    actor: ActorDep,
) -> dict[str, Any]:
    """Store the request body as the run's artifact ``path`` (content-addressed; the same path again replaces
    it). The body streams to a temporary file, so large files never sit in memory."""
    rel = safe_relative_path(path)
    await run_in_threadpool(_writable_project, actor, run_id, "log artifacts")
    with tempfile.TemporaryDirectory(prefix="assay-upload-") as folder:
        target = FsPath(folder) / FsPath(rel).name
        size = 0
        with target.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise InvalidInputError(f"the artifact is larger than {MAX_UPLOAD >> 20} MiB; store it elsewhere")
                out.write(chunk)
        stored = await run_in_threadpool(actor.client.log_artifact, run_id, target, rel)
    found = [a for a in actor.client.list_artifacts(run_id) if a["path"] == stored]
    return as_json(found[0])


@router.post("/runs/{run_id}/tags", summary="Set tags")
def set_tags(run_id: Annotated[str, Path(max_length=64)], body: TagsIn, actor: ActorDep) -> dict[str, Any]:
    """Set (or replace) tags of a run, ended or not; returns all its tags."""
    _writable_project(actor, run_id, "tag runs")
    if not body.tags:
        raise InvalidInputError('tags is empty: send at least one tag such as {"tags": {"stage": "cv"}}')
    tags = {k: _text(v) for k, v in body.tags.items()}
    actor.client.db.retrying_write(lambda conn: (rq.get_run_row(conn, run_id), rq.upsert_tags(conn, run_id, tags)))
    return as_json(actor.client.run_info(run_id)["tags"])


@router.delete("/runs/{run_id}/tags/{key}", status_code=204, summary="Delete a tag")
def delete_tag(run_id: Annotated[str, Path(max_length=64)], key: Key, actor: ActorDep) -> None:
    _writable_project(actor, run_id, "tag runs")
    actor.client.db.retrying_write(lambda conn: rq.delete_tag(conn, run_id, key))


def _set_status(actor: Actor, run_id: str, status: str, action: str) -> dict[str, Any]:
    _writable_project(actor, run_id, f"{action} runs")

    def write(conn: Any) -> None:
        rq.set_run_status(conn, run_id, status, None if status == "running" else rq.now_ms())
        rq.append_event(conn, actor=actor.user, action=f"run.{status}", entity_type="run", entity_id=run_id)

    actor.client.db.retrying_write(write)
    return as_json(actor.client.run_info(run_id))


@router.post("/runs/{run_id}/terminate", summary="End a run")
def terminate(run_id: Annotated[str, Path(max_length=64)], body: EndIn, actor: ActorDep) -> dict[str, Any]:
    """Mark the run ``finished`` (default), ``failed`` or ``killed``."""
    return _set_status(actor, run_id, body.status, "end")


@router.post("/runs/{run_id}/resume", summary="Resume a run")
def resume(run_id: Annotated[str, Path(max_length=64)], actor: ActorDep) -> dict[str, Any]:
    """Reopen an ended run for logging (status back to ``running``)."""
    return _set_status(actor, run_id, "running", "resume")
