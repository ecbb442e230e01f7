"""Read the audit log: an entity's history, and which version an alias pointed at, at any moment.

Example::

    from assay.governance.history import alias_at, audit_log
    alias_at("churn", "production", "2026-03-01")        # -> 3 (or None if the alias did not exist yet)
    audit_log(model="churn")                              # every event about the model and its versions
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from assay._defaults import client_or_default as _client
from assay.errors import InvalidInputError
from assay.store import audit
from assay.store.models import Event

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["alias_at", "alias_history", "audit_log", "verify_audit"]


def to_ms(value: dt.datetime | dt.date | str | int) -> int:
    """Epoch milliseconds of a datetime, a date (its end: 23:59:59.999 UTC), ISO text or epoch ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                dt.date.fromisoformat(text)
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError as exc:
            raise InvalidInputError(f"not an ISO date/time: {text!r} (e.g. 2026-03-01 or 2026-03-01T12:00)") from exc
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date):
        end = dt.datetime.combine(value, dt.time.max, tzinfo=dt.UTC)
        return int(end.timestamp() * 1000)
    raise InvalidInputError(f"expected a date, datetime, ISO text or epoch ms; got {value!r}")


def _rows(conn: Any, stmt: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "time": dt.datetime.fromtimestamp(r.ts_ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "ts_ms": r.ts_ms,
            "actor": r.actor,
            "action": r.action,
            "entity": f"{r.entity_type}:{r.entity_id}",
            "payload": r.payload,
        }
        for r in conn.execute(stmt)
    ]


def audit_log(
    *,
    model: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    limit: int = 200,
    client: Client | None = None,
) -> list[dict[str, Any]]:
    """Events, oldest first; ``model`` covers the model and all its versions."""
    stmt = select(Event.id, Event.ts_ms, Event.actor, Event.action, Event.entity_type, Event.entity_id, Event.payload)
    if model is not None:
        stmt = stmt.where(
            or_(
                (Event.entity_type == "model") & (Event.entity_id == model),
                (Event.entity_type == "model_version") & Event.entity_id.startswith(f"{model}/"),
            )
        )
    if entity_type is not None:
        stmt = stmt.where(Event.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(Event.entity_id == entity_id)
    if action is not None:
        stmt = stmt.where(Event.action.startswith(action))
    with _client(client).db.read() as conn:
        newest = _rows(conn, stmt.order_by(Event.id.desc()).limit(limit))
    return newest[::-1]


def alias_history(name: str, alias: str | None = None, *, client: Client | None = None) -> list[dict[str, Any]]:
    """Every move of the model's aliases (or one alias), oldest first: time, actor, alias, version (None: deleted)."""
    stmt = (
        select(Event.id, Event.ts_ms, Event.actor, Event.action, Event.entity_type, Event.entity_id, Event.payload)
        .where(
            Event.entity_type == "model",
            Event.entity_id == name,
            Event.action.in_(["model.alias", "model.alias_delete"]),
        )
        .order_by(Event.id)
    )
    with _client(client).db.read() as conn:
        rows = _rows(conn, stmt)
    out = []
    for r in rows:
        payload = r["payload"] or {}
        if alias is not None and payload.get("alias") != alias:
            continue
        version = payload.get("version") if r["action"] == "model.alias" else None
        out.append({"time": r["time"], "ts_ms": r["ts_ms"], "actor": r["actor"], "alias": payload.get("alias"),
                    "version": version, "previous": payload.get("previous")})  # fmt: skip
    return out


def alias_at(
    name: str, alias: str, at: dt.datetime | dt.date | str | int, *, client: Client | None = None
) -> int | None:
    """The version ``name@alias`` pointed at, at time ``at`` (a date means the end of that day, UTC)."""
    when = to_ms(at)
    current = None
    for move in alias_history(name, alias, client=client):
        if move["ts_ms"] > when:
            break
        current = move["version"]
    return current


def verify_audit(*, anchor: str | None = None, client: Client | None = None) -> audit.AuditVerification:
    """Recompute the audit log's hash chain (see :mod:`assay.store.audit`)."""
    with _client(client).db.read() as conn:
        return audit.verify(conn, anchor=anchor)
