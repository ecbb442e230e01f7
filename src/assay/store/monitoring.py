"""Queries over monitors, their runs (one per window), alerts, incidents and dataset checks.

Idempotency lives here: a monitor run is claimed per ``(monitor, window start, window end)`` under a
unique constraint, and an alert per ``(monitor run, rule)``, so a scheduler that calls the same window
twice (or two schedulers at once) never double-counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from assay.errors import ConflictError, InvalidInputError, NotFoundError, StateError
from assay.store.models import Alert, DatasetCheck, Incident, Monitor, MonitorRun
from assay.store.runs import _upsert, append_event, now_ms

__all__ = [
    "STALE_RUN_MS",
    "alerts_of_run",
    "claim_window",
    "finish_run",
    "get_incident",
    "get_monitor",
    "list_dataset_checks",
    "list_incidents",
    "list_monitor_runs",
    "list_monitors",
    "open_or_extend_incident",
    "record_alert",
    "record_dataset_check",
    "save_monitor",
    "set_alert_deliveries",
    "transition_incident",
]

STALE_RUN_MS = 6 * 3600 * 1000  # a "running" claim older than this is taken over (its process died)
_TRANSITIONS = {"open": {"acknowledged", "resolved"}, "acknowledged": {"resolved"}, "resolved": {"open"}}


# -- monitors ------------------------------------------------------------------------------------------
def save_monitor(
    conn: Connection,
    name: str,
    definition: dict[str, Any],
    *,
    model_name: str | None = None,
    model_version: int | None = None,
    dataset_name: str | None = None,
    enabled: bool = True,
) -> int:
    """Create or replace the monitor called ``name``; return its id (runs already recorded are kept)."""
    ts = now_ms()
    values = {
        "definition": definition,
        "model_name": model_name,
        "model_version": model_version,
        "dataset_name": dataset_name,
        "enabled": enabled,
        "updated_ms": ts,
    }
    stmt = _upsert(conn)(Monitor).values(name=name, created_ms=ts, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))
    return conn.execute(select(Monitor.id).where(Monitor.name == name)).scalar_one()


def get_monitor(conn: Connection, name: str) -> dict[str, Any]:
    row = conn.execute(select(Monitor.__table__).where(Monitor.name == name)).mappings().first()
    if row is None:
        names = list(conn.execute(select(Monitor.name).order_by(Monitor.name)).scalars())
        known = ", ".join(names) if names else "none yet: create one with assay.monitoring.create_monitor"
        raise NotFoundError(f"monitor {name!r} not found; monitors: {known}")
    return dict(row)


def list_monitors(conn: Connection) -> list[dict[str, Any]]:
    last = (
        select(MonitorRun.monitor_id, func.max(MonitorRun.window_end_ms).label("last_window_end_ms"))
        .group_by(MonitorRun.monitor_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            Monitor.name,
            Monitor.model_name,
            Monitor.model_version,
            Monitor.dataset_name,
            Monitor.enabled,
            Monitor.definition,
            last.c.last_window_end_ms,
        )
        .outerjoin(last, last.c.monitor_id == Monitor.id)
        .order_by(Monitor.name)
    ).mappings()
    return [dict(r) for r in rows]


# -- monitor runs --------------------------------------------------------------------------------------
def claim_window(
    conn: Connection, monitor_id: int, start_ms: int, end_ms: int, *, force: bool = False
) -> tuple[int, dict[str, Any] | None]:
    """Claim the run of ``monitor_id`` over ``[start_ms, end_ms)``.

    Returns ``(run id, None)`` when this caller must compute the window, or ``(run id, stored row)``
    when the window already finished (``ok``/``alerting``) and ``force`` is off. A ``failed`` run is
    retried; a ``running`` one younger than :data:`STALE_RUN_MS` raises ``ConflictError``.
    """
    if end_ms <= start_ms:
        raise InvalidInputError(f"window end ({end_ms}) must be after its start ({start_ms})")
    ts = now_ms()
    stmt = _upsert(conn)(MonitorRun).values(
        monitor_id=monitor_id, window_start_ms=start_ms, window_end_ms=end_ms, status="running", started_ms=ts
    )
    inserted = conn.execute(
        stmt.on_conflict_do_nothing(index_elements=["monitor_id", "window_start_ms", "window_end_ms"]).returning(
            MonitorRun.id
        )
    ).first()
    row = (
        conn.execute(
            select(MonitorRun.__table__).where(
                MonitorRun.monitor_id == monitor_id,
                MonitorRun.window_start_ms == start_ms,
                MonitorRun.window_end_ms == end_ms,
            )
        )
        .mappings()
        .one()
    )
    run = dict(row)
    if inserted:
        return run["id"], None
    if run["status"] in ("ok", "alerting") and not force:
        return run["id"], run
    if run["status"] == "running" and ts - run["started_ms"] < STALE_RUN_MS and not force:
        raise ConflictError(
            f"this window is being computed by another process (started {(ts - run['started_ms']) // 1000} s ago); "
            "wait for it, or pass force=True if that process died"
        )
    conn.execute(
        update(MonitorRun)
        .where(MonitorRun.id == run["id"])
        .values(status="running", started_ms=ts, finished_ms=None, error=None)
    )
    return run["id"], None


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    status: str,
    figures: dict[str, Any] | None,
    result: dict[str, Any] | None,
    error: str | None = None,
) -> None:
    conn.execute(
        update(MonitorRun)
        .where(MonitorRun.id == run_id)
        .values(status=status, figures=figures, result=result, error=error, finished_ms=now_ms())
    )


def list_monitor_runs(conn: Connection, monitor_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(MonitorRun.__table__)
        .where(MonitorRun.monitor_id == monitor_id)
        .order_by(MonitorRun.window_end_ms.desc(), MonitorRun.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


# -- alerts --------------------------------------------------------------------------------------------
def record_alert(conn: Connection, run_id: int, values: dict[str, Any]) -> int | None:
    """Insert the alert of ``values["rule"]`` on ``run_id``; ``None`` when that rule already fired on it."""
    stmt = _upsert(conn)(Alert).values(monitor_run_id=run_id, fired_ms=now_ms(), **values)
    inserted = conn.execute(
        stmt.on_conflict_do_nothing(index_elements=["monitor_run_id", "rule"]).returning(Alert.id)
    ).first()
    return None if inserted is None else inserted[0]


def set_alert_deliveries(conn: Connection, alert_id: int, deliveries: dict[str, Any]) -> None:
    conn.execute(update(Alert).where(Alert.id == alert_id).values(deliveries=deliveries))


def alerts_of_run(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(Alert.__table__).where(Alert.monitor_run_id == run_id).order_by(Alert.id)).mappings()
    return [dict(r) for r in rows]


# -- incidents -----------------------------------------------------------------------------------------
def open_or_extend_incident(conn: Connection, values: dict[str, Any], *, run_id: int) -> tuple[int, bool]:
    """The open (or acknowledged) incident of ``(monitor_id, rule)`` gets this run added to it; otherwise a
    new incident opens. Returns ``(incident id, opened)``."""
    current = conn.execute(
        select(Incident.id)
        .where(
            Incident.monitor_id == values["monitor_id"],
            Incident.rule == values["rule"],
            Incident.state.in_(["open", "acknowledged"]),
        )
        .order_by(Incident.id.desc())
        .limit(1)
    ).scalar()
    if current is not None:
        conn.execute(
            update(Incident)
            .where(Incident.id == current)
            .values(last_run_id=run_id, alert_count=Incident.alert_count + 1)
        )
        return current, False
    new_id = conn.execute(
        insert(Incident)
        .values(state="open", first_run_id=run_id, last_run_id=run_id, alert_count=1, opened_ms=now_ms(), **values)
        .returning(Incident.id)
    ).scalar_one()
    append_event(
        conn, actor="monitor", action="incident.open", entity_type="incident", entity_id=str(new_id), payload=values
    )
    return new_id, True


def get_incident(conn: Connection, incident_id: int) -> dict[str, Any]:
    row = conn.execute(select(Incident.__table__).where(Incident.id == incident_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"incident {incident_id} not found; `assay incident list` shows the incidents")
    return dict(row)


def list_incidents(
    conn: Connection, *, state: str | None = None, monitor_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    stmt = select(Incident.__table__).order_by(Incident.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(Incident.state == state)
    if monitor_id is not None:
        stmt = stmt.where(Incident.monitor_id == monitor_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def transition_incident(
    conn: Connection,
    incident_id: int,
    state: str,
    *,
    actor: str,
    owner: str | None = None,
    postmortem: str | None = None,
) -> dict[str, Any]:
    """Move an incident to ``state`` (open → acknowledged → resolved; resolved → open to reopen).

    Moving to the state it is already in only updates ``owner``/``postmortem`` (idempotent retries).
    """
    if state not in _TRANSITIONS:
        raise InvalidInputError(f"incident state must be one of {', '.join(_TRANSITIONS)}; got {state!r}")
    row = get_incident(conn, incident_id)
    if row["state"] != state and state not in _TRANSITIONS[row["state"]]:
        raise StateError(
            f"incident {incident_id} is {row['state']}; it can move to {', '.join(sorted(_TRANSITIONS[row['state']]))}"
        )
    values: dict[str, Any] = {"state": state}
    ts = now_ms()
    if state == "acknowledged" and row["acknowledged_ms"] is None:
        values["acknowledged_ms"] = ts
    if state == "resolved" and row["state"] != "resolved":
        values["resolved_ms"] = ts
    if state == "open" and row["state"] == "resolved":
        values["resolved_ms"] = None
    if owner is not None:
        values["owner"] = owner
    if postmortem is not None:
        values["postmortem"] = postmortem
    conn.execute(update(Incident).where(Incident.id == incident_id).values(**values))
    if row["state"] != state or postmortem is not None:
        append_event(
            conn,
            actor=actor,
            action=f"incident.{state}" if row["state"] != state else "incident.note",
            entity_type="incident",
            entity_id=str(incident_id),
            payload={"from": row["state"], "to": state, "owner": owner, "postmortem": postmortem},
        )
    return get_incident(conn, incident_id)


# -- dataset checks ------------------------------------------------------------------------------------
def record_dataset_check(
    conn: Connection,
    dataset_version_id: int,
    kind: str,
    result: dict[str, Any],
    *,
    actor: str,
    passed: bool | None = None,
    summary: str | None = None,
) -> int:
    return conn.execute(
        insert(DatasetCheck)
        .values(
            dataset_version_id=dataset_version_id,
            kind=kind,
            ts_ms=now_ms(),
            actor=actor,
            passed=passed,
            summary=summary,
            result=result,
        )
        .returning(DatasetCheck.id)
    ).scalar_one()


def list_dataset_checks(
    conn: Connection, dataset_version_id: int, *, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    stmt = (
        select(DatasetCheck.__table__)
        .where(DatasetCheck.dataset_version_id == dataset_version_id)
        .order_by(DatasetCheck.ts_ms.desc(), DatasetCheck.id.desc())
        .limit(limit)
    )
    if kind is not None:
        stmt = stmt.where(DatasetCheck.kind == kind)
    return [dict(r) for r in conn.execute(stmt).mappings()]
