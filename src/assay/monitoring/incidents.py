"""Incidents opened by alerts: list them, acknowledge, resolve with a post-mortem, reopen.

An incident belongs to one monitor and rule: while it is open or acknowledged, further alerts of that
rule are added to it (``alert_count``, ``last_run_id``) instead of opening new ones. Every state change
is written to the append-only event log with who made it.

Example::

    from assay.monitoring import incidents
    for inc in incidents.list_incidents(state="open"):
        print(inc.id, inc.title)
    incidents.acknowledge(3, owner="maria")
    incidents.resolve(3, postmortem="Upstream feed sent prices in cents for 2 days; fixed the parser, retrained.")
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError
from assay.results import ResultMixin
from assay.store import monitoring as mq
from assay.tracking.environment import current_user

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["IncidentInfo", "acknowledge", "get_incident", "list_incidents", "note", "reopen", "resolve"]

STATES = ("open", "acknowledged", "resolved")


def _iso(ms: int | None) -> str | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class IncidentInfo(ResultMixin):
    id: int
    title: str
    state: str
    severity: str
    monitor: str | None
    rule: str | None
    model_name: str | None
    model_version: int | None
    alert_count: int
    first_run_id: int | None
    last_run_id: int | None
    owner: str | None
    postmortem: str | None
    opened_at: str | None
    acknowledged_at: str | None
    resolved_at: str | None

    def summary(self) -> str:
        model = f" on {self.model_name} v{self.model_version}" if self.model_name else ""
        owner = f", owner {self.owner}" if self.owner else ""
        return (
            f"Incident #{self.id} ({self.state}, {self.severity}){model}: {self.title} "
            f"[{self.alert_count} alert(s){owner}]"
        )


def _info(conn: Any, row: dict[str, Any], names: dict[int, str] | None = None) -> IncidentInfo:
    if names is None:
        names = {m["id"]: m["name"] for m in _monitor_names(conn)}
    return IncidentInfo(
        id=row["id"],
        title=row["title"],
        state=row["state"],
        severity=row["severity"],
        monitor=names.get(row["monitor_id"]) if row["monitor_id"] is not None else None,
        rule=row["rule"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        alert_count=row["alert_count"],
        first_run_id=row["first_run_id"],
        last_run_id=row["last_run_id"],
        owner=row["owner"],
        postmortem=row["postmortem"],
        opened_at=_iso(row["opened_ms"]),
        acknowledged_at=_iso(row["acknowledged_ms"]),
        resolved_at=_iso(row["resolved_ms"]),
    )


def _monitor_names(conn: Any) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from assay.store.models import Monitor

    return [dict(r) for r in conn.execute(select(Monitor.id, Monitor.name)).mappings()]


def list_incidents(
    *, state: str | None = None, monitor: str | None = None, limit: int = 100, client: Client | None = None
) -> list[IncidentInfo]:
    """Incidents, newest first; filter by ``state`` (open/acknowledged/resolved) and ``monitor`` name."""
    if state is not None and state not in STATES:
        raise InvalidInputError(f"state must be one of {', '.join(STATES)}; got {state!r}")
    with _client(client).db.read() as conn:
        monitor_id = mq.get_monitor(conn, monitor)["id"] if monitor else None
        names = {m["id"]: m["name"] for m in _monitor_names(conn)}
        return [_info(conn, r, names) for r in mq.list_incidents(conn, state=state, monitor_id=monitor_id, limit=limit)]


def get_incident(incident_id: int, *, client: Client | None = None) -> IncidentInfo:
    with _client(client).db.read() as conn:
        return _info(conn, mq.get_incident(conn, incident_id))


def _move(incident_id: int, state: str, client: Client | None, **kw: Any) -> IncidentInfo:
    c = _client(client)
    who = kw.pop("actor", None) or current_user()
    row = c.db.retrying_write(lambda conn: mq.transition_incident(conn, incident_id, state, actor=who, **kw))
    with c.db.read() as conn:
        return _info(conn, row)


def acknowledge(
    incident_id: int, *, owner: str | None = None, actor: str | None = None, client: Client | None = None
) -> IncidentInfo:
    """Someone is on it: ``open`` → ``acknowledged`` (idempotent)."""
    return _move(incident_id, "acknowledged", client, owner=owner, actor=actor)


def resolve(
    incident_id: int, *, postmortem: str | None = None, actor: str | None = None, client: Client | None = None
) -> IncidentInfo:
    """Close the incident, optionally with its post-mortem note (idempotent)."""
    return _move(incident_id, "resolved", client, postmortem=postmortem, actor=actor)


def reopen(incident_id: int, *, actor: str | None = None, client: Client | None = None) -> IncidentInfo:
    """``resolved`` → ``open`` again."""
    return _move(incident_id, "open", client, actor=actor)


def note(incident_id: int, postmortem: str, *, actor: str | None = None, client: Client | None = None) -> IncidentInfo:
    """Write (or rewrite) the post-mortem note without changing the state."""
    if not postmortem or not postmortem.strip():
        raise InvalidInputError("the post-mortem note is empty")
    with _client(client).db.read() as conn:
        state = mq.get_incident(conn, incident_id)["state"]
    return _move(incident_id, state, client, postmortem=postmortem, actor=actor)
