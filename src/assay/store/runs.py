"""Queries over projects, runs, params, tags and metrics. Functions take an open connection.

The hot path (``insert_metrics``) goes straight to the DB-API cursor: ``executemany`` on SQLite,
``COPY`` on PostgreSQL, so a million points become durable in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from assay.errors import ConflictError, NotFoundError
from assay.store.models import LatestMetric, Metric, Param, Project, Run, Tag

__all__ = [
    "MetricPoint",
    "append_event",
    "get_or_create_project",
    "get_project_id",
    "get_run_row",
    "insert_metrics",
    "insert_params",
    "metric_history",
    "now_ms",
    "upsert_tags",
]

# (run_id, key, value, step, ts_ms)
MetricPoint = tuple[str, str, float, int, int]


def now_ms() -> int:
    return int(time.time() * 1000)


def _upsert(conn: Connection):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def get_project_id(conn: Connection, name: str) -> int:
    pid = conn.execute(select(Project.id).where(Project.name == name)).scalar()
    if pid is None:
        raise NotFoundError(f"project {name!r} not found; projects are created by starting a run in them")
    return pid


def get_or_create_project(conn: Connection, name: str) -> int:
    """Id of the named project, created if missing (safe under concurrent creators)."""
    pid = conn.execute(select(Project.id).where(Project.name == name)).scalar()
    if pid is not None:
        return pid
    stmt = _upsert(conn)(Project).values(name=name, created_ms=now_ms()).on_conflict_do_nothing()
    conn.execute(stmt)
    return conn.execute(select(Project.id).where(Project.name == name)).scalar_one()


def get_run_row(conn: Connection, run_id: str) -> Any:
    row = conn.execute(
        select(Run.__table__, Project.name.label("project"))
        .join(Project, Project.id == Run.project_id)
        .where(Run.id == run_id)
    ).first()
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found; check the id with `assay runs list`")
    return row


def run_project(conn: Connection, run_id: str) -> str | None:
    """The name of the project a run belongs to (None for an unknown run)."""
    return conn.execute(select(Project.name).join(Run, Run.project_id == Project.id).where(Run.id == run_id)).scalar()


def insert_params(conn: Connection, run_id: str, params: dict[str, str]) -> None:
    """Insert params; re-logging the same value is a no-op, a different value is a ConflictError."""
    if not params:
        return
    existing = dict(
        conn.execute(select(Param.key, Param.value).where(Param.run_id == run_id, Param.key.in_(list(params)))).all()
    )
    clashes = {k: (existing[k], v) for k, v in params.items() if k in existing and existing[k] != v}
    if clashes:
        detail = ", ".join(f"{k!r}: logged {old!r}, now {new!r}" for k, (old, new) in sorted(clashes.items()))
        raise ConflictError(
            f"params are immutable within a run and these were already logged with other values ({detail}); "
            "start a new run to try other values, or log the changing value as a metric or tag"
        )
    new = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in existing]
    if new:
        conn.execute(_upsert(conn)(Param).on_conflict_do_nothing(), new)


def upsert_tags(conn: Connection, run_id: str, tags: dict[str, str]) -> None:
    if not tags:
        return
    stmt = _upsert(conn)(Tag)
    stmt = stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": stmt.excluded.value})
    conn.execute(stmt, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])


def delete_tag(conn: Connection, run_id: str, key: str) -> None:
    conn.execute(delete(Tag).where(Tag.run_id == run_id, Tag.key == key))


def insert_metrics(conn: Connection, points: Sequence[MetricPoint]) -> None:
    """Append metric points and advance ``latest_metrics`` (NaN is stored as NULL)."""
    if not points:
        return
    rows = [(r, k, None if v != v else v, s, t) for (r, k, v, s, t) in points]
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cur.copy("COPY metrics (run_id, key, value, step, ts_ms) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = "INSERT INTO metrics (run_id, key, value, step, ts_ms) VALUES (?, ?, ?, ?, ?)"
            cur.executemany(sql, rows)
    finally:
        cur.close()
    latest: dict[tuple[str, str], tuple[Any, int, int]] = {}
    for r, k, v, s, t in rows:
        cur_best = latest.get((r, k))
        if cur_best is None or (s, t) >= (cur_best[1], cur_best[2]):
            latest[(r, k)] = (v, s, t)
    stmt = _upsert(conn)(LatestMetric)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"value": ex.value, "step": ex.step, "ts_ms": ex.ts_ms},
        where=(ex.step > LatestMetric.step) | and_(ex.step == LatestMetric.step, ex.ts_ms >= LatestMetric.ts_ms),
    )
    conn.execute(
        stmt,
        [{"run_id": r, "key": k, "value": v, "step": s, "ts_ms": t} for (r, k), (v, s, t) in latest.items()],
    )


def metric_history(conn: Connection, run_id: str, key: str) -> list[tuple[int, float, int]]:
    """``(step, value, ts_ms)`` for every logged point, in step order (NULL read back as NaN)."""
    rows = conn.execute(
        select(Metric.step, Metric.value, Metric.ts_ms)
        .where(Metric.run_id == run_id, Metric.key == key)
        .order_by(Metric.step, Metric.ts_ms, Metric.id)
    ).all()
    return [(s, math.nan if v is None else v, t) for s, v, t in rows]


def metric_keys(conn: Connection, run_id: str) -> list[str]:
    return list(conn.execute(select(LatestMetric.key).where(LatestMetric.run_id == run_id)).scalars())


def set_run_status(conn: Connection, run_id: str, status: str, end_ms: int | None) -> None:
    result = conn.execute(update(Run).where(Run.id == run_id).values(status=status, end_ms=end_ms))
    if result.rowcount == 0:
        raise NotFoundError(f"run {run_id!r} not found")


def append_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: dict | None = None,
) -> None:
    """Append to the hash-chained event log (who did what, when). Never updated or deleted."""
    from assay.store import audit

    audit.append(
        conn, ts_ms=now_ms(), actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, payload=payload
    )


def count_runs(conn: Connection, project_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(Run)
    if project_id is not None:
        stmt = stmt.where(Run.project_id == project_id)
    return conn.execute(stmt).scalar_one()


def run_details(conn: Connection, run_ids: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Params, latest metrics and tags of the given runs, as ``{run_id: {"params"|"metrics"|"tags": {..}}}``."""
    ids = list(run_ids)
    out: dict[str, dict[str, dict[str, Any]]] = {i: {"params": {}, "metrics": {}, "tags": {}} for i in ids}
    if not ids:
        return out
    for r, k, v in conn.execute(select(Param.run_id, Param.key, Param.value).where(Param.run_id.in_(ids))):
        out[r]["params"][k] = v
    for r, k, v in conn.execute(
        select(LatestMetric.run_id, LatestMetric.key, LatestMetric.value).where(LatestMetric.run_id.in_(ids))
    ):
        out[r]["metrics"][k] = math.nan if v is None else v
    for r, k, v in conn.execute(select(Tag.run_id, Tag.key, Tag.value).where(Tag.run_id.in_(ids))):
        out[r]["tags"][k] = v
    return out
