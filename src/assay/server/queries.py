"""Read queries the API needs that no capability module offers: project of an entity, counts, dataset
versions and alerts across monitors. Each takes an open connection; the routes stay thin.

Example::

    with client.db.read() as conn:
        project = project_of_run(conn, run_id)      # NotFoundError for an unknown run
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from assay.errors import NotFoundError
from assay.store import registry as mq
from assay.store import runs as rq
from assay.store.models import (
    Alert,
    Dataset,
    DatasetCheck,
    DatasetVersion,
    ModelVersion,
    Monitor,
    MonitorRun,
    Project,
    RegisteredModel,
    Run,
)
from assay.tracking.filters import parse_filter
from assay.tracking.search import compile_filter

__all__ = [
    "count_monitor_runs",
    "count_runs",
    "dataset_versions",
    "list_alerts",
    "list_datasets",
    "list_projects",
    "project_of_model",
    "project_of_run",
    "project_of_version",
]


def project_of_run(conn: Connection, run_id: str) -> str:
    """The project of a run; ``NotFoundError`` for an unknown run."""
    return rq.get_run_row(conn, run_id).project


def project_of_version(conn: Connection, name: str, version: int) -> str | None:
    """The project of the run that produced a model version (``None`` when it has no run)."""
    row = mq.get_version_row(conn, name, version)
    return rq.run_project(conn, row.run_id) if row.run_id else None


def project_of_model(conn: Connection, name: str) -> str | None:
    """A model's project: that of its newest version's run (``None`` for a model without versions or runs)."""
    mq.get_model_id(conn, name)
    stmt = (
        select(Project.name)
        .select_from(ModelVersion)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .join(Run, Run.id == ModelVersion.run_id)
        .join(Project, Project.id == Run.project_id)
        .where(RegisteredModel.name == name)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    return conn.execute(stmt).scalar()


def list_projects(conn: Connection) -> list[dict[str, Any]]:
    """Every project with its run count and last run start, by name."""
    runs = (
        select(Run.project_id, func.count().label("runs"), func.max(Run.start_ms).label("last_run_ms"))
        .group_by(Run.project_id)
        .subquery()
    )
    rows = conn.execute(
        select(Project.name, Project.description, Project.created_ms, runs.c.runs, runs.c.last_run_ms)
        .outerjoin(runs, runs.c.project_id == Project.id)
        .order_by(Project.name)
    ).all()
    return [
        {"name": r.name, "description": r.description, "created_ms": r.created_ms, "runs": r.runs or 0,
         "last_run_ms": r.last_run_ms}
        for r in rows
    ]  # fmt: skip


def count_runs(conn: Connection, project_ids: list[int] | None, filter: str | None) -> int:
    """How many runs match ``filter`` (the ``search_runs`` grammar) in ``project_ids`` (``None``: all)."""
    stmt = select(func.count()).select_from(Run).where(compile_filter(parse_filter(filter)))
    if project_ids is not None:
        stmt = stmt.where(Run.project_id.in_(project_ids))
    return conn.execute(stmt).scalar_one()


def list_datasets(conn: Connection) -> list[dict[str, Any]]:
    """Every dataset with its version count and newest version's fingerprint, rows and time."""
    stats = (
        select(DatasetVersion.dataset_id, func.count().label("n"), func.max(DatasetVersion.id).label("latest_id"))
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )
    rows = conn.execute(
        select(Dataset.name, Dataset.created_ms, stats.c.n, DatasetVersion.fingerprint, DatasetVersion.num_rows,
               DatasetVersion.created_ms.label("latest_ms"))
        .outerjoin(stats, stats.c.dataset_id == Dataset.id)
        .outerjoin(DatasetVersion, DatasetVersion.id == stats.c.latest_id)
        .order_by(Dataset.name)
    ).all()  # fmt: skip
    return [
        {"name": r.name, "created_ms": r.created_ms, "versions": r.n or 0, "latest_fingerprint": r.fingerprint,
         "latest_num_rows": r.num_rows, "latest_ms": r.latest_ms}
        for r in rows
    ]  # fmt: skip


def dataset_versions(conn: Connection, name: str) -> list[dict[str, Any]]:
    """The versions of a dataset, newest first, with their check counts (``NotFoundError`` if unknown)."""
    ds_id = conn.execute(select(Dataset.id).where(Dataset.name == name)).scalar()
    if ds_id is None:
        known = list(conn.execute(select(Dataset.name).order_by(Dataset.name).limit(20)).scalars())
        raise NotFoundError(f"dataset {name!r} not found; recorded datasets: {known or 'none'}")
    checks = (
        select(DatasetCheck.dataset_version_id, func.count().label("n"))
        .group_by(DatasetCheck.dataset_version_id)
        .subquery()
    )
    rows = conn.execute(
        select(DatasetVersion.id, DatasetVersion.fingerprint, DatasetVersion.schema, DatasetVersion.num_rows,
               DatasetVersion.source_uri, DatasetVersion.created_ms, DatasetVersion.profile.is_not(None).label("p"),
               checks.c.n)
        .outerjoin(checks, checks.c.dataset_version_id == DatasetVersion.id)
        .where(DatasetVersion.dataset_id == ds_id)
        .order_by(DatasetVersion.created_ms.desc(), DatasetVersion.id.desc())
    ).all()  # fmt: skip
    return [
        {"id": r.id, "fingerprint": r.fingerprint, "schema": r.schema, "num_rows": r.num_rows,
         "source_uri": r.source_uri, "created_ms": r.created_ms, "has_profile": bool(r.p), "checks": r.n or 0}
        for r in rows
    ]  # fmt: skip


def list_alerts(
    conn: Connection, *, monitor: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Alerts newest first (of one monitor, or all) with their monitor and window, and the total count."""
    where = []
    if monitor is not None:
        where.append(Monitor.id == mq_monitor_id(conn, monitor))
    base = (
        select(Alert.id)
        .join(MonitorRun, MonitorRun.id == Alert.monitor_run_id)
        .join(Monitor, Monitor.id == MonitorRun.monitor_id)
    )
    total = conn.execute(select(func.count()).select_from(base.where(*where).subquery())).scalar_one()
    rows = conn.execute(
        select(Alert.__table__, Monitor.name.label("monitor"), MonitorRun.window_start_ms, MonitorRun.window_end_ms)
        .join(MonitorRun, MonitorRun.id == Alert.monitor_run_id)
        .join(Monitor, Monitor.id == MonitorRun.monitor_id)
        .where(*where)
        .order_by(Alert.fired_ms.desc(), Alert.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


def count_monitor_runs(conn: Connection, name: str) -> int:
    """How many runs (windows) monitor ``name`` has (``NotFoundError`` for an unknown monitor)."""
    monitor_id = mq_monitor_id(conn, name)
    return conn.execute(select(func.count()).where(MonitorRun.monitor_id == monitor_id)).scalar_one()


def mq_monitor_id(conn: Connection, name: str) -> int:
    """The id of monitor ``name`` (``NotFoundError`` naming the monitors when unknown)."""
    from assay.store import monitoring

    return monitoring.get_monitor(conn, name)["id"]
