"""A model version's governance: its card (read and edit), policy gates with evidence, lineage, the
experiments it served in, and promotion to an alias.

Example::

    GET   /api/v1/models/churn/versions/4/gates
    PATCH /api/v1/models/churn/versions/4/card      {"fields": {"intended_use": "Rank customers for calls."}}
    POST  /api/v1/models/churn/versions/4/promote   {"alias": "production"}
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from assay.experiments.persist import experiments_for_model
from assay.governance.approvals import promote
from assay.governance.card import card_fields, edit_card, model_card
from assay.governance.lineage import lineage
from assay.governance.policy import check
from assay.server.auth import ActorDep
from assay.server.pages import as_json
from assay.server.routes_models import Name, Version, version_project

__all__ = ["router"]

router = APIRouter(tags=["governance"])

_VERSION = "/models/{name}/versions/{version}"


class CardEdit(BaseModel):
    fields: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=20_000)] | None]


class PromoteIn(BaseModel):
    alias: Annotated[str, Field(min_length=1, max_length=64)] = "production"
    override: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="An admin's recorded reason to promote despite failed gates."
    )


@router.get("/card-fields", summary="Card sections people write")
def get_card_fields(actor: ActorDep) -> list[dict[str, Any]]:
    """The human-written sections of a model card (name, title, help, required)."""
    return as_json([f.to_dict() for f in card_fields()])


@router.get(_VERSION + "/card", summary="Model card")
def get_card(name: Name, version: Version, actor: ActorDep) -> dict[str, Any]:
    """The version's model card (Mitchell et al., 2019): what assay recorded, and what people wrote."""
    version_project(actor, name, version, "viewer", f"read model {name!r}")
    card = model_card((name, version), client=actor.client)
    return {**card.to_dict(), "summary": card.summary()}


@router.patch(_VERSION + "/card", summary="Edit a model card")
def patch_card(name: Name, version: Version, body: CardEdit, actor: ActorDep) -> dict[str, Any]:
    """Write human sections of the card (null or "" clears one); scientist role in the version's project."""
    version_project(actor, name, version, "scientist", f"edit the card of {name} v{version}")
    card = edit_card((name, version), body.fields, client=actor.client, actor=actor.user)
    return {**card.to_dict(), "summary": card.summary()}


@router.get(_VERSION + "/gates", summary="Policy gates")
def get_gates(name: Name, version: Version, actor: ActorDep) -> dict[str, Any]:
    """Every gate of the project's policy evaluated on the version now, each with its evidence."""
    version_project(actor, name, version, "viewer", f"read model {name!r}")
    report = check((name, version), client=actor.client)
    return {**report.to_dict(), "summary": report.summary()}


@router.get(_VERSION + "/lineage", summary="Lineage")
def get_lineage(name: Name, version: Version, actor: ActorDep) -> dict[str, Any]:
    """Datasets → run → version → checks, approvals, promotions → aliases, monitors, experiments."""
    version_project(actor, name, version, "viewer", f"read model {name!r}")
    found = lineage(f"models:/{name}/{version}", client=actor.client)
    return {**found.to_dict(), "summary": found.summary()}


@router.get(_VERSION + "/experiments", summary="Experiments the version served in")
def get_experiments(name: Name, version: Version, actor: ActorDep) -> list[dict[str, Any]]:
    """Its measured business impact: each experiment, variant, decision and primary-metric lift."""
    version_project(actor, name, version, "viewer", f"read model {name!r}")
    return as_json(experiments_for_model(name, version, client=actor.client))


@router.post(_VERSION + "/promote", summary="Promote to an alias")
def post_promote(name: Name, version: Version, body: PromoteIn, actor: ActorDep) -> dict[str, Any]:
    """Move ``name@alias`` to the version after the gates and, for a protected alias, an approved request."""
    version_project(actor, name, version, "scientist", f"move {name}@{body.alias}")
    done = promote(name, version, alias=body.alias, override=body.override, client=actor.client)
    return as_json({**dataclasses.asdict(done), "summary": done.summary()})
