"""The few reads the UI needs that no capability module offers: key lists for column choice, run counts,
datasets with their versions, and alerts of many monitor runs at once. Read-only, parameterised SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from assay.errors import NotFoundError
from assay.store.models import Alert, Dataset, DatasetVersion, LatestMetric, Param, Run, Tag

__all__ = ["alerts_of_runs", "dataset_versions", "list_datasets", "run_keys"]


def run_keys(conn: Connection, project_id: int) -> dict[str, list[str]]:
    """The param, metric and tag keys used by any run of the project, sorted (the choosable columns)."""
    runs = select(Run.id).where(Run.project_id == project_id).scalar_subquery()
    out = {}
    for entity, table in (("params", Param), ("metrics", LatestMetric), ("tags", Tag)):
        stmt = select(table.key).distinct().where(table.run_id.in_(runs)).order_by(table.key)
        out[entity] = list(conn.execute(stmt).scalars())
    return out


def list_datasets(conn: Connection) -> list[dict[str, Any]]:
    """Every dataset: name, number of versions, newest version time and row count."""
    newest = (
        select(DatasetVersion.dataset_id, func.max(DatasetVersion.created_ms).label("last_ms"),
               func.count().label("versions"))
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )  # fmt: skip
    stmt = (
        select(Dataset.name, newest.c.versions, newest.c.last_ms)
        .join(newest, newest.c.dataset_id == Dataset.id, isouter=True)
        .order_by(Dataset.name)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def dataset_versions(conn: Connection, name: str) -> list[dict[str, Any]]:
    """The versions of dataset ``name``, newest first (``profile`` is whether one is stored)."""
    found = conn.execute(select(Dataset.id).where(Dataset.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"dataset {name!r} not found; the Data page lists the recorded datasets")
    stmt = (
        select(DatasetVersion.id, DatasetVersion.fingerprint, DatasetVersion.num_rows, DatasetVersion.source_uri,
               DatasetVersion.schema, DatasetVersion.created_ms, DatasetVersion.profile.is_not(None).label("profiled"))
        .where(DatasetVersion.dataset_id == found)
        .order_by(DatasetVersion.created_ms.desc(), DatasetVersion.id.desc())
    )  # fmt: skip
    return [dict(r) for r in conn.execute(stmt).mappings()]


def version_profile(conn: Connection, version_id: int) -> dict[str, Any] | None:
    return conn.execute(select(DatasetVersion.profile).where(DatasetVersion.id == version_id)).scalar()


def alerts_of_runs(conn: Connection, run_ids: list[int]) -> list[dict[str, Any]]:
    """Alerts fired on any of the monitor runs ``run_ids``, newest first."""
    if not run_ids:
        return []
    stmt = select(Alert.__table__).where(Alert.monitor_run_id.in_(run_ids)).order_by(Alert.fired_ms.desc())
    return [dict(r) for r in conn.execute(stmt).mappings()]
