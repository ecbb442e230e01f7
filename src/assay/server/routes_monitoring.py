"""Monitoring: monitors, their runs (windows with figures), alerts, and incidents (acknowledge, resolve, reopen).

A monitor of a registered model belongs to that model's project; other monitors and their incidents need the
role in some project. Reading needs viewer; moving an incident needs scientist.

Example::

    GET  /api/v1/monitors/churn-daily/runs
    GET  /api/v1/incidents?state=open
    POST /api/v1/incidents/3/acknowledge   {"owner": "maria"}
    POST /api/v1/incidents/3/resolve       {"note": "upstream feed fixed; retrained"}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from assay.monitoring import incidents
from assay.monitoring.monitors import get_monitor, list_monitors, monitor_runs
from assay.server import queries
from assay.server.auth import Actor, ActorDep
from assay.server.pages import Limit, Offset, Page, as_json, page_of, paginate
from assay.store import monitoring as mq

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])

MonitorName = Annotated[str, Path(min_length=1, max_length=255)]
IncidentId = Annotated[int, Path(ge=1, le=2**62)]
Note = Annotated[str, Field(min_length=1, max_length=20_000)]


class AckIn(BaseModel):
    owner: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(None, description="Default: the caller.")
    note: Note | None = Field(None, description="A first note (kept as the incident's post-mortem text).")


class ResolveIn(BaseModel):
    note: Note | None = Field(None, description="The post-mortem: what happened and what was done.")


def _model_project(actor: Actor, model: str | None) -> str | None:
    if model is None:
        return None
    with actor.client.db.read() as conn:
        try:
            return queries.project_of_model(conn, model)
        except LookupError:  # a monitor may name a model that was never registered
            return None


def _monitor_project(actor: Actor, name: str, role: str) -> str | None:
    with actor.client.db.read() as conn:
        model = mq.get_monitor(conn, name)["model_name"]
    project = _model_project(actor, model)
    actor.require(role, project, action="read monitors" if role == "viewer" else "operate monitors")
    return project


def _incident(actor: Actor, incident_id: int, role: str) -> None:
    with actor.client.db.read() as conn:
        model = mq.get_incident(conn, incident_id)["model_name"]
    what = "read incidents" if role == "viewer" else "acknowledge or resolve incidents"
    actor.require(role, _model_project(actor, model), action=what)


@router.get("/monitors", response_model=Page, summary="List monitors")
def get_monitors(request: Request, actor: ActorDep, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Monitors the caller may read: model, dataset, window, checks, last window monitored."""
    found = [
        m for m in list_monitors(client=actor.client) if actor.can("viewer", _model_project(actor, m["model_name"]))
    ]
    return paginate(request, found, limit, offset)


@router.get("/monitors/{name}", summary="Get a monitor")
def get_monitor_spec(name: MonitorName, actor: ActorDep) -> dict[str, Any]:
    """The monitor's definition (data, window, checks, rules) and project."""
    project = _monitor_project(actor, name, "viewer")
    return as_json({"name": name, "project": project, "definition": get_monitor(name, client=actor.client)})


@router.get("/monitors/{name}/runs", response_model=Page, summary="Monitor runs")
def get_monitor_runs(
    request: Request, name: MonitorName, actor: ActorDep, limit: Limit = 100, offset: Offset = 0
) -> Page:
    """The monitor's runs, newest window first: status, figures (drift, performance, estimates), error."""
    _monitor_project(actor, name, "viewer")
    runs = monitor_runs(name, limit=limit + offset, client=actor.client)[offset:]
    with actor.client.db.read() as conn:
        total = queries.count_monitor_runs(conn, name)
    return page_of(request, runs, total, limit, offset)


@router.get("/alerts", response_model=Page, summary="List alerts")
def get_alerts(
    request: Request,
    actor: ActorDep,
    monitor: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Alerts newest first (of one monitor, or of all the caller may read): rule, figure, value, deliveries."""
    if monitor is not None:
        _monitor_project(actor, monitor, "viewer")
    else:
        actor.require("viewer", None, action="read alerts")
    with actor.client.db.read() as conn:
        rows, total = queries.list_alerts(conn, monitor=monitor, limit=limit, offset=offset)
    return page_of(request, rows, total, limit, offset)


@router.get("/incidents", response_model=Page, summary="List incidents")
def get_incidents(
    request: Request,
    actor: ActorDep,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    monitor: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    """Incidents newest first, optionally in one state or of one monitor."""
    found = incidents.list_incidents(state=state, monitor=monitor, limit=2**31, client=actor.client)
    found = [i for i in found if actor.can("viewer", _model_project(actor, i.model_name))]
    return paginate(request, found, limit, offset)


@router.get("/incidents/{incident_id}", summary="Get an incident")
def get_incident(incident_id: IncidentId, actor: ActorDep) -> dict[str, Any]:
    _incident(actor, incident_id, "viewer")
    found = incidents.get_incident(incident_id, client=actor.client)
    return {**found.to_dict(), "summary": found.summary()}


@router.post("/incidents/{incident_id}/acknowledge", summary="Acknowledge an incident")
def acknowledge(incident_id: IncidentId, body: AckIn, actor: ActorDep) -> dict[str, Any]:
    """``open`` → ``acknowledged`` with an owner (default: the caller) and an optional note; idempotent."""
    _incident(actor, incident_id, "scientist")
    found = incidents.acknowledge(incident_id, owner=body.owner or actor.user, actor=actor.user, client=actor.client)
    if body.note is not None:
        found = incidents.note(incident_id, body.note, actor=actor.user, client=actor.client)
    return {**found.to_dict(), "summary": found.summary()}


@router.post("/incidents/{incident_id}/resolve", summary="Resolve an incident")
def resolve(incident_id: IncidentId, body: ResolveIn, actor: ActorDep) -> dict[str, Any]:
    """Close the incident with an optional post-mortem note; idempotent."""
    _incident(actor, incident_id, "scientist")
    found = incidents.resolve(incident_id, postmortem=body.note, actor=actor.user, client=actor.client)
    return {**found.to_dict(), "summary": found.summary()}


@router.post("/incidents/{incident_id}/reopen", summary="Reopen an incident")
def reopen(incident_id: IncidentId, actor: ActorDep) -> dict[str, Any]:
    """``resolved`` → ``open`` again."""
    _incident(actor, incident_id, "scientist")
    found = incidents.reopen(incident_id, actor=actor.user, client=actor.client)
    return {**found.to_dict(), "summary": found.summary()}
