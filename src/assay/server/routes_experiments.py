"""Experiments and their stored analyses (readouts). Experiments belong to no project: reading them needs
the viewer role in some project.

Example::

    GET /api/v1/experiments/checkout-v2
    GET /api/v1/experiments/checkout-v2/readout          # the newest analysis, whole
    GET /api/v1/experiments/checkout-v2/analyses?limit=5
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from assay.errors import NotFoundError
from assay.experiments.persist import list_experiments, load_experiment
from assay.server.auth import ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, page_of, paginate
from assay.store import experiments as eq

__all__ = ["router"]

router = APIRouter(tags=["experiments"])

ExperimentName = Annotated[str, Path(min_length=1, max_length=255)]
_READ = "read experiments"


@router.get("/experiments", response_model=Page, summary="List experiments")
def get_experiments(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Every stored experiment, most recently updated first: status, analyses, last analysis time."""
    actor.require("viewer", None, action=_READ)
    return paginate(request, list_experiments(client=actor.client), limit, offset)


@router.get("/experiments/{name}", summary="Get an experiment")
def get_experiment(name: ExperimentName, actor: ActorDep) -> dict[str, Any]:
    """Definition, status, variants (with the model versions they served) and the newest analysis."""
    actor.require("viewer", None, action=_READ)
    return as_json(load_experiment(name, client=actor.client, analyses=1))


@router.get("/experiments/{name}/analyses", response_model=Page, summary="Stored analyses")
def get_analyses(
    request: Request, name: ExperimentName, actor: ActorDep, limit: Limit = 20, offset: Offset = 0
) -> Page:
    """Analyses newest first, each with decision, summary, SRM p-value, metric rows and the whole result."""
    actor.require("viewer", None, action=_READ)
    with actor.client.db.read() as conn:
        exp = eq.get_experiment(conn, name)
        rows = eq.analyses_of(conn, exp["id"], limit=limit + offset)[offset:]
    return page_of(request, rows, exp["analyses"], limit, offset)


@router.get("/experiments/{name}/readout", summary="The latest readout")
def get_readout(name: ExperimentName, actor: ActorDep) -> dict[str, Any]:
    """The newest analysis: decision, plain-language summary, SRM and the per-metric lifts with intervals."""
    actor.require("viewer", None, action=_READ)
    exp = load_experiment(name, client=actor.client, analyses=1)
    if not exp["latest_analyses"]:
        raise NotFoundError(f"experiment {name!r} has no stored analysis yet; analyse it with `assay exp analyze`")
    latest = exp["latest_analyses"][0]
    return as_json({"experiment": name, "status": exp["status"], "variants": exp["variants"], **latest})
