"""Who am I, the projects the caller may read, and a project's policy.

Example::

    GET /api/v1/whoami          -> {"user": "maria", "single_user": false, "roles": {"churn": "reviewer"}}
    GET /api/v1/projects
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assay import __version__
from assay.errors import NotFoundError
from assay.governance.policy import load_policy
from assay.server import queries
from assay.server.auth import ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, paginate

__all__ = ["router"]

router = APIRouter()


@router.get("/health", tags=["meta"], summary="Liveness")
def health() -> dict[str, str]:
    """Always answers (no token needed): the server is up."""
    return {"status": "ok", "version": __version__}


@router.get("/whoami", tags=["meta"], summary="The caller's identity")
def whoami(actor: ActorDep) -> dict[str, Any]:
    """The user the token belongs to, whether the store is single-user, and the roles held per project."""
    who = actor.identity
    return {"user": who.user, "single_user": who.single_user, "roles": dict(who.roles)}


@router.get("/projects", response_model=Page, tags=["projects"], summary="List projects")
def list_projects(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Projects the caller may read, with run counts."""
    with actor.client.db.read() as conn:
        rows = queries.list_projects(conn)
    visible = set(actor.visible_projects([r["name"] for r in rows]))
    return paginate(request, [r for r in rows if r["name"] in visible], limit, offset)


@router.get("/projects/{project}", tags=["projects"], summary="Get a project")
def get_project(project: str, actor: ActorDep) -> dict[str, Any]:
    """One project: run count, last run, and the caller's role in it."""
    with actor.client.db.read() as conn:
        rows = {r["name"]: r for r in queries.list_projects(conn)}
    if project not in rows:
        raise NotFoundError(f"project {project!r} not found; projects are created by starting a run in them")
    actor.require("viewer", project, action=f"read project {project!r}")
    return as_json({**rows[project], "role": actor.identity.role_in(project)})


@router.get("/projects/{project}/policy", tags=["governance"], summary="The project's policy gates")
def get_policy(project: str, actor: ActorDep) -> dict[str, Any]:
    """The policy in force (saved, or the default): protected aliases and the gates a version must pass."""
    actor.require("viewer", project, action=f"read the policy of project {project!r}")
    policy = load_policy(project, client=actor.client)
    out = {**policy.to_dict(), "spec": policy.spec(), "summary": policy.summary(), "webhooks": len(policy.notify)}
    out.pop("notify")  # webhook URLs carry secrets
    out["spec"].pop("notify", None)
    return as_json(out)
