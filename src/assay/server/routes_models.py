"""The model registry: models, versions, aliases (get, set, delete) and alias history.

Moving an alias needs the scientist role in the model's project; a protected alias (``production`` unless
the project's policy says otherwise) only moves through an approved promotion (see ``/approvals`` and
``POST .../promote``), as in :mod:`assay.governance.approvals`.

Example::

    PUT /api/v1/models/churn/aliases/staging   {"version": 4}
    GET /api/v1/models/churn/alias-history?alias=production
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from assay.errors import NotFoundError
from assay.governance.history import alias_history
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, paginate
from assay.store import registry as mq

__all__ = ["model_project", "router", "version_project"]

router = APIRouter(tags=["models"])

Name = Annotated[str, Path(min_length=1, max_length=255)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
AliasName = Annotated[str, Path(min_length=1, max_length=64)]


class AliasIn(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1)


def model_project(actor: Actor, name: str, role: str, action: str) -> str | None:
    """The model's project, after checking the caller holds ``role`` there (404 for an unknown model)."""
    with actor.client.db.read() as conn:
        project = queries.project_of_model(conn, name)
    actor.require(role, project, action=action)
    return project


def version_project(actor: Actor, name: str, version: int, role: str, action: str) -> str | None:
    """The version's project (its run's), after checking the caller holds ``role`` there."""
    with actor.client.db.read() as conn:
        project = queries.project_of_version(conn, name, version)
    actor.require(role, project, action=action)
    return project


@router.get("/models", response_model=Page, summary="List models")
def list_models(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Registered models the caller may read: latest version, version count, aliases."""
    models = actor.client.registry.list_models()
    if not actor.identity.single_user:
        with actor.client.db.read() as conn:
            models = [m for m in models if actor.can("viewer", queries.project_of_model(conn, m["name"]))]
    return paginate(request, models, limit, offset)


@router.get("/models/{name}", summary="Get a model")
def get_model(name: Name, actor: ActorDep) -> dict[str, Any]:
    """A model with its project, aliases and newest version."""
    project = model_project(actor, name, "viewer", f"read model {name!r}")
    found = [m for m in actor.client.registry.list_models() if m["name"] == name]
    if not found:
        raise NotFoundError(f"model {name!r} not found")
    return as_json({**found[0], "project": project})


@router.get("/models/{name}/versions", response_model=Page, summary="List versions")
def list_versions(request: Request, name: Name, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Every version of the model, oldest first."""
    model_project(actor, name, "viewer", f"read model {name!r}")
    return paginate(request, actor.client.registry.list_versions(name), limit, offset)


@router.get("/models/{name}/versions/{version}", summary="Get a version")
def get_version(name: Name, version: Version, actor: ActorDep) -> dict[str, Any]:
    """One version: run, flavor, signature, aliases, project."""
    project = version_project(actor, name, version, "viewer", f"read model {name!r}")
    return as_json({**actor.client.registry.get_version(name, version).to_dict(), "project": project})


@router.get("/models/{name}/aliases", summary="List aliases")
def list_aliases(name: Name, actor: ActorDep) -> dict[str, int]:
    """``{alias: version}`` of the model."""
    model_project(actor, name, "viewer", f"read model {name!r}")
    with actor.client.db.read() as conn:
        return mq.aliases_of(conn, name)


@router.get("/models/{name}/aliases/{alias}", summary="Resolve an alias")
def get_alias(name: Name, alias: AliasName, actor: ActorDep) -> dict[str, Any]:
    """The version ``name@alias`` points at."""
    model_project(actor, name, "viewer", f"read model {name!r}")
    with actor.client.db.read() as conn:
        version = mq.resolve_alias(conn, name, alias)
    return as_json(actor.client.registry.get_version(name, version))


@router.put("/models/{name}/aliases/{alias}", summary="Set an alias")
def set_alias(name: Name, alias: AliasName, body: AliasIn, actor: ActorDep) -> dict[str, Any]:
    """Point ``name@alias`` at a version (scientist role; protected aliases need an approved promotion)."""
    version_project(actor, name, body.version, "scientist", f"move the alias {name}@{alias}")
    actor.client.registry.set_alias(name, alias, body.version)
    return as_json(actor.client.registry.get_version(name, body.version))


@router.delete("/models/{name}/aliases/{alias}", status_code=204, summary="Delete an alias")
def delete_alias(name: Name, alias: AliasName, actor: ActorDep) -> None:
    """Remove ``name@alias`` (scientist role; a protected alias needs the same rights as moving it)."""
    model_project(actor, name, "scientist", f"move the alias {name}@{alias}")
    with actor.client.db.read() as conn:
        mq.resolve_alias(conn, name, alias)  # 404 naming the aliases it has
    actor.client.registry.delete_alias(name, alias)


@router.get("/models/{name}/alias-history", response_model=Page, summary="Alias history")
def get_alias_history(
    request: Request,
    name: Name,
    actor: ActorDep,
    alias: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Every move of the model's aliases (or of one), oldest first: time, actor, alias, version, previous."""
    model_project(actor, name, "viewer", f"read model {name!r}")
    return paginate(request, alias_history(name, alias, client=actor.client), limit, offset)
