"""Promotion requests: list, ask, approve or reject with a comment (reviewer role, never one's own version).

Example::

    POST /api/v1/approvals                 {"model": "churn", "version": 4, "alias": "production"}
    POST /api/v1/approvals/7/approve       {"comment": "card and fairness report checked"}
    POST /api/v1/approvals/7/reject        {"comment": "recall on the new segment is too low"}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from assay.governance import approvals
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, paginate
from assay.store import identity as iq

__all__ = ["router"]

router = APIRouter(tags=["approvals"])

RequestId = Annotated[int, Path(ge=1, le=2**62)]
State = Literal["pending", "approved", "rejected", "withdrawn", "used"]
Comment = Annotated[str, Field(max_length=5000)]


class RequestIn(BaseModel):
    model: Annotated[str, Field(min_length=1, max_length=255)]
    version: int = Field(ge=1, le=2**31 - 1)
    alias: Annotated[str, Field(min_length=1, max_length=64)] = "production"
    comment: Comment | None = None


class DecisionIn(BaseModel):
    comment: Comment | None = None


def _project(actor: Actor, request: dict[str, Any]) -> str | None:
    with actor.client.db.read() as conn:
        return queries.project_of_version(conn, request["model_name"], request["version"])


def _readable(actor: Actor, request_id: int) -> dict[str, Any]:
    with actor.client.db.read() as conn:
        req = iq.get_request(conn, request_id)
    actor.require("viewer", _project(actor, req), action="read promotion requests")
    return req


@router.get("/approvals", response_model=Page, summary="List promotion requests")
def list_requests(
    request: Request,
    actor: ActorDep,
    model: Annotated[str | None, Query(max_length=255)] = None,
    state: State | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Requests newest first (of one model and/or in one state) in projects the caller may read."""
    found = approvals.list_requests(model=model, state=state, client=actor.client)
    if not actor.identity.single_user:
        seen: dict[tuple[str, int], bool] = {}
        for r in found:
            key = (r["model_name"], r["version"])
            if key not in seen:
                seen[key] = actor.can("viewer", _project(actor, r))
        found = [r for r in found if seen[(r["model_name"], r["version"])]]
    return paginate(request, found, limit, offset)


@router.post("/approvals", status_code=201, summary="Request a promotion")
def create_request(body: RequestIn, actor: ActorDep) -> dict[str, Any]:
    """Ask for ``model`` v``version`` to become ``model@alias`` (scientist role); one open request per pair."""
    rid = approvals.request_promotion(body.model, body.version, alias=body.alias, comment=body.comment,
                                      client=actor.client)  # fmt: skip
    with actor.client.db.read() as conn:
        return as_json(iq.get_request(conn, rid))


@router.get("/approvals/{request_id}", summary="Get a promotion request")
def get_request(request_id: RequestId, actor: ActorDep) -> dict[str, Any]:
    return as_json(_readable(actor, request_id))


@router.post("/approvals/{request_id}/approve", summary="Approve a promotion request")
def approve(request_id: RequestId, body: DecisionIn, actor: ActorDep) -> dict[str, Any]:
    """Approve a pending request: reviewer role in the version's project, and not the version's author."""
    req = _readable(actor, request_id)
    actor.require("reviewer", _project(actor, req), action="approve or reject promotions")
    return as_json(approvals.approve(request_id, comment=body.comment, client=actor.client))


@router.post("/approvals/{request_id}/reject", summary="Reject a promotion request")
def reject(request_id: RequestId, body: DecisionIn, actor: ActorDep) -> dict[str, Any]:
    """Reject a pending request, saying why (``comment`` is required)."""
    req = _readable(actor, request_id)
    actor.require("reviewer", _project(actor, req), action="approve or reject promotions")
    return as_json(approvals.reject(request_id, comment=body.comment, client=actor.client))
