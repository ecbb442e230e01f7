"""Datasets: their versions (by content fingerprint), stored profiles, and recorded checks (contract
validations, PII scans, schema diffs). Datasets belong to no project: reading them needs the viewer role in
some project.

Example::

    GET /api/v1/datasets/orders/versions
    GET /api/v1/datasets/orders/profile?fingerprint=3fa2
    GET /api/v1/datasets/orders/checks?kind=validation
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from assay.data.records import dataset_checks, load_profile
from assay.server import queries
from assay.server.auth import ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, paginate

__all__ = ["router"]

router = APIRouter(tags=["datasets"])

DatasetName = Annotated[str, Path(min_length=1, max_length=255)]
Fingerprint = Annotated[
    str | None, Query(min_length=1, max_length=64, pattern="^[0-9a-f]+$", description="A fingerprint or its prefix.")
]
_READ = "read datasets"


@router.get("/datasets", response_model=Page, summary="List datasets")
def list_datasets(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Every dataset with its version count and newest version."""
    actor.require("viewer", None, action=_READ)
    with actor.client.db.read() as conn:
        return paginate(request, queries.list_datasets(conn), limit, offset)


@router.get("/datasets/{name}/versions", response_model=Page, summary="List dataset versions")
def list_versions(request: Request, name: DatasetName, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """The dataset's versions newest first: fingerprint, schema, rows, source, whether profiled, check count."""
    actor.require("viewer", None, action=_READ)
    with actor.client.db.read() as conn:
        return paginate(request, queries.dataset_versions(conn, name), limit, offset)


@router.get("/datasets/{name}/profile", summary="Stored profile")
def get_profile(name: DatasetName, actor: ActorDep, fingerprint: Fingerprint = None) -> dict[str, Any]:
    """The profile of the newest profiled version (or of the version whose fingerprint starts so)."""
    actor.require("viewer", None, action=_READ)
    prof = load_profile(name, fingerprint=fingerprint, client=actor.client)
    return {**as_json(prof), "summary": prof.summary()}


@router.get("/datasets/{name}/checks", response_model=Page, summary="Recorded checks")
def list_checks(
    request: Request,
    name: DatasetName,
    actor: ActorDep,
    kind: Literal["profile", "validation", "pii", "schema_diff"] | None = None,
    fingerprint: Fingerprint = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Results recorded against the newest version (or the given one), newest first; contract results are
    ``kind=validation`` (``passed`` and the failing checks in ``result``)."""
    actor.require("viewer", None, action=_READ)
    return paginate(request, dataset_checks(name, kind=kind, fingerprint=fingerprint, client=actor.client), limit,
                    offset)  # fmt: skip
