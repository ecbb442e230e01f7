"""Routes the remote tracking client needs beyond the REST API's entity routes (:mod:`assay.tracking.remote`).

- ``PUT  /runs/{id}/environment`` records the environment, host and pid the *client* captured (the run was
  created by the server, which knows neither);
- ``POST /runs/{id}/inputs`` links a dataset version the client fingerprinted to the run;
- ``POST /runs/{id}/metric-columns`` one batch of metric points as columns (what the background writer sends:
  cheaper to build, send and validate than one object per point);
- ``GET  /runs/{id}/metric-history?key=`` every point of one metric in columns (keys may hold ``/``);
- ``GET  /run-table`` the ``search_runs`` result as columns, lossless, so the client rebuilds the same DataFrame;
- ``POST /runs/{id}/models`` registers a model folder already uploaded as the run's artifacts;
- ``GET  /model-files?uri=`` and ``GET /model-file?uri=&file=`` resolve a model URI to its files and serve them.

Example::

    POST /api/v1/runs/{run_id}/models {"name": "churn", "artifact_path": "model", "files": {"assay-model.json": "9f.."}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from assay.artifacts import safe_relative_path
from assay.errors import InvalidInputError, NotFoundError, StateError
from assay.registry.flavors import FlavorInfo
from assay.registry.registry import MODEL_META, _check_name
from assay.registry.signature import Signature
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import as_json
from assay.server.routes_logging import _writable_project
from assay.server.routes_runs import _readable_run, _scope
from assay.store import lineage as lq
from assay.store import registry as mq
from assay.store import runs as rq
from assay.store.models import Run as RunRow

__all__ = ["router"]

router = APIRouter(tags=["remote client"])

RunId = Annotated[str, Path(max_length=64)]
Key = Annotated[str, Field(min_length=1, max_length=255)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
_BASE = ("run_id", "project", "name", "status", "start_time", "end_time", "user")


class EnvironmentIn(BaseModel):
    environment: dict[str, Any] = Field(default_factory=dict)
    host: Annotated[str, Field(max_length=255)] | None = None
    pid: Annotated[int, Field(ge=0, le=2**31)] | None = None


class DatasetIn(BaseModel):
    name: Key
    fingerprint: Annotated[str, Field(min_length=1, max_length=128)]
    schema_: dict[str, str] = Field(default_factory=dict, alias="schema")
    num_rows: Annotated[int, Field(ge=0)] | None = None
    source_uri: Annotated[str, Field(max_length=4096)] | None = None
    role: Key = "train"


_MAX_STEP = 2**62
Step = Annotated[int, Field(ge=-_MAX_STEP, le=_MAX_STEP)]
TimeMs = Annotated[int, Field(ge=0, le=10**14)]


class MetricColumnsIn(BaseModel):
    keys: list[Key] = Field(min_length=1, max_length=100_000, description="The distinct metric keys of the batch.")
    key: list[Annotated[int, Field(ge=0)]] = Field(max_length=200_000, description="Index into keys, per point.")
    value: list[float | None] = Field(max_length=200_000, description="Per point; null for NaN.")
    step: list[Step] = Field(max_length=200_000)
    timestamp_ms: list[TimeMs] = Field(max_length=200_000, description="Milliseconds since the epoch.")


class ModelIn(BaseModel):
    name: Key
    artifact_path: Annotated[str, Field(min_length=1, max_length=1024)] = "model"
    files: dict[Annotated[str, Field(min_length=1, max_length=1024)], Digest] = Field(min_length=1)
    description: Annotated[str, Field(max_length=10_000)] | None = None


@router.put("/runs/{run_id}/environment", summary="Record the client's environment")
def put_environment(run_id: RunId, body: EnvironmentIn, actor: ActorDep) -> dict[str, Any]:
    """Store the environment (packages, git, Python), host and pid captured where the run executes."""
    _writable_project(actor, run_id, "log to runs")
    values: dict[str, Any] = {"environment": body.environment}
    if body.host is not None:
        values["host"] = body.host
    if body.pid is not None:
        values["pid"] = body.pid

    def write(conn: Any) -> None:
        rq.get_run_row(conn, run_id)
        conn.execute(RunRow.__table__.update().where(RunRow.__table__.c.id == run_id).values(**values))

    actor.client.db.retrying_write(write)
    return {"run_id": run_id, "recorded": sorted(values)}


@router.post("/runs/{run_id}/inputs", status_code=201, summary="Link a dataset to a run")
def post_input(run_id: RunId, body: DatasetIn, actor: ActorDep) -> dict[str, Any]:
    """Link the dataset version (created if its fingerprint is new) to the run with ``role``."""
    _writable_project(actor, run_id, "log datasets")

    def link(conn: Any) -> int:
        rq.get_run_row(conn, run_id)
        dv_id, _ = lq.get_or_create_dataset_version(
            conn, name=body.name, fingerprint=body.fingerprint, schema=body.schema_, num_rows=body.num_rows,
            source_uri=body.source_uri,
        )  # fmt: skip
        lq.add_run_input(conn, run_id, dv_id, body.role)
        return dv_id

    return {"dataset_version_id": actor.client.db.retrying_write(link), "role": body.role}


@router.post("/runs/{run_id}/metric-columns", summary="Log a batch of metric points as columns")
def log_metric_columns(run_id: RunId, body: MetricColumnsIn, actor: ActorDep) -> dict[str, int]:
    """Append the batch in one transaction, once it is durable answer ``{"metrics": n}``; 409 on an ended run."""
    n = len(body.key)
    if not (len(body.value) == len(body.step) == len(body.timestamp_ms) == n):
        raise InvalidInputError(
            f"key, value, step and timestamp_ms must have one entry per point; got {n}, {len(body.value)}, "
            f"{len(body.step)} and {len(body.timestamp_ms)}"
        )
    if n and max(body.key) >= len(body.keys):
        raise InvalidInputError(f"key holds an index {max(body.key)} past the {len(body.keys)} keys sent")
    _writable_project(actor, run_id, "log to runs")
    keys, nan = body.keys, float("nan")
    points = [
        (run_id, keys[k], nan if v is None else v, s, t)
        for k, v, s, t in zip(body.key, body.value, body.step, body.timestamp_ms, strict=True)
    ]

    def write(conn: Any) -> None:
        row = rq.get_run_row(conn, run_id)
        if row.status != "running" and points:
            raise StateError(f"run {run_id} is {row.status}; resume it (POST .../resume) before logging to it")
        rq.insert_metrics(conn, points)

    actor.client.db.retrying_write(write)
    return {"metrics": n}


@router.get("/runs/{run_id}/metric-history", summary="Metric history as columns")
def metric_history(
    run_id: RunId, actor: ActorDep, key: Annotated[str, Query(min_length=1, max_length=255)]
) -> dict[str, list[Any]]:
    """Every point of metric ``key`` in step order: ``{"step": [...], "value": [...], "timestamp_ms": [...]}``
    (NaN as null, ±inf as the strings ``"Infinity"`` and ``"-Infinity"``, which plain JSON cannot hold)."""
    _readable_run(actor, run_id)
    points = actor.client.metric_history(run_id, key)
    return {
        "step": [p[0] for p in points],
        "value": [_number(p[1]) for p in points],
        "timestamp_ms": [p[2] for p in points],
    }


def _number(value: float | None) -> float | str | None:
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@router.get("/run-table", summary="Search runs as columns")
def run_table(
    actor: ActorDep,
    project: Annotated[list[str] | None, Query()] = None,
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    order_by: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict[str, Any]:
    """The ``search_runs`` DataFrame column by column (times as epoch ms, missing as null): what the remote
    client turns back into the very frame the embedded client returns."""
    c = actor.client
    c.flush()
    from assay.tracking.search import search_runs

    with c.db.read() as conn:
        ids = _scope(actor, conn, project)
        df = search_runs(conn, project_ids=ids, filter=filter, order_by=order_by, limit=limit, offset=offset)
    return {"columns": {col: _column(df[col]) for col in df.columns}}


def _column(series: pd.Series) -> list[Any]:
    if series.name in ("start_time", "end_time"):
        ms = series.dt.as_unit("ms").astype("int64").tolist()
        return [None if na else v for v, na in zip(ms, series.isna().tolist(), strict=True)]
    if str(series.name).startswith("metrics."):
        return [_number(v) for v in series.tolist()]
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in series.tolist()]


@router.post("/runs/{run_id}/models", status_code=201, summary="Register an uploaded model folder")
def register_model(run_id: RunId, body: ModelIn, actor: ActorDep) -> dict[str, Any]:
    """Register the model folder the client uploaded as the run's artifacts under ``artifact_path``
    (``files``: path in the folder → sha256, each checked against what the run recorded) as the next version."""
    _check_name(body.name)
    base = safe_relative_path(body.artifact_path)
    _writable_project(actor, run_id, "register model versions")
    client = actor.client
    with client.db.read() as conn:
        recorded = {a["path"]: a["digest"] for a in lq.list_artifacts(conn, run_id, base)}
    files = {safe_relative_path(rel): digest for rel, digest in body.files.items()}
    wrong = [rel for rel, digest in files.items() if recorded.get(f"{base}/{rel}") != digest]
    if wrong:
        raise InvalidInputError(
            f"run {run_id} has no artifact {base}/{wrong[0]} with that digest: upload every file of the model folder "
            f"(PUT /runs/{run_id}/artifact?path={base}/...) before registering it"
        )
    if MODEL_META not in files:
        raise InvalidInputError(f"the model folder has no {MODEL_META}; save it with assay's model flavors")
    try:
        meta = json.loads(client.artifacts.get_bytes(files[MODEL_META]))
        info = FlavorInfo.from_dict(meta["flavor"])
        signature = Signature.from_dict(meta["signature"]).to_dict() if meta.get("signature") else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"{MODEL_META} of the uploaded model is not valid: {exc}") from exc
    missing = [f for f in info.files if f not in files]
    if missing:
        raise InvalidInputError(f"the model folder lacks {missing}, which {MODEL_META} lists; upload them too")

    def register(conn: Any) -> int:
        version = mq.create_version(
            conn, body.name,
            {"run_id": run_id, "flavor": info.flavor, "flavor_info": info.to_dict(),
             "artifact_uri": f"runs:/{run_id}/{base}", "files": files, "signature": signature,
             "description": body.description},
        )  # fmt: skip
        rq.append_event(
            conn, actor=actor.user, action="model.register", entity_type="model_version",
            entity_id=f"{body.name}/{version}", payload={"run_id": run_id, "flavor": info.flavor},
        )  # fmt: skip
        return version

    version = client.db.retrying_write(register)
    return as_json(client.registry.get_version(body.name, version))


def _resolve(actor: Actor, uri: str) -> tuple[Any, dict[str, str]]:
    """The version (``None`` for a run's unregistered model) and manifest of ``uri``, once the caller may read it."""
    uri, mv, manifest = actor.client.registry.resolve(uri)
    run_id = mv.run_id if mv is not None else uri[len("runs:/") :].split("/", 1)[0]
    project = None
    if run_id:
        with actor.client.db.read() as conn:
            project = queries.project_of_run(conn, run_id)
    actor.require("viewer", project, action="read models" + (f" of project {project!r}" if project else ""))
    return mv, manifest


ModelUri = Annotated[str, Query(min_length=1, max_length=2048, description="models:/churn@production, runs:/ID/model")]


@router.get("/model-files", summary="Resolve a model URI")
def model_files(uri: ModelUri, actor: ActorDep) -> dict[str, Any]:
    """The version a model URI names (null for a run's unregistered model) and its files (path → sha256)."""
    mv, manifest = _resolve(actor, uri)
    return {"uri": uri, "version": None if mv is None else as_json(mv), "files": manifest}


@router.get(
    "/model-file",
    summary="Download one file of a model",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def model_file(
    uri: ModelUri, actor: ActorDep, file: Annotated[str, Query(min_length=1, max_length=1024)]
) -> StreamingResponse:
    """The bytes of ``file`` (a path listed by ``/model-files``) of the model ``uri`` names."""
    _, manifest = _resolve(actor, uri)
    rel = safe_relative_path(file)
    if rel not in manifest:
        raise NotFoundError(f"{uri} has no file {rel!r}; it has {sorted(manifest)}")
    handle = actor.client.artifacts.open(manifest[rel])

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(1 << 20):
                yield block

    return StreamingResponse(chunks(), media_type="application/octet-stream", headers={"X-Assay-Digest": manifest[rel]})
