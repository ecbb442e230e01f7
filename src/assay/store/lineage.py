"""Queries over datasets, dataset versions, run inputs and run artifacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from assay.store.models import Artifact, Dataset, DatasetVersion, RunInput
from assay.store.runs import _upsert, now_ms

__all__ = [
    "add_run_input",
    "get_or_create_dataset_version",
    "list_artifacts",
    "list_run_inputs",
    "record_artifact",
]


def get_or_create_dataset_version(
    conn: Connection,
    *,
    name: str,
    fingerprint: str,
    schema: dict[str, Any],
    num_rows: int | None,
    source_uri: str | None,
) -> tuple[int, bool]:
    """``(dataset_version_id, created)``; the same content under the same name is one version."""
    ins = _upsert(conn)
    conn.execute(ins(Dataset).values(name=name, created_ms=now_ms()).on_conflict_do_nothing())
    ds_id = conn.execute(select(Dataset.id).where(Dataset.name == name)).scalar_one()
    existing = conn.execute(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == ds_id, DatasetVersion.fingerprint == fingerprint)
    ).scalar()
    if existing is not None:
        return existing, False
    conn.execute(
        ins(DatasetVersion)
        .values(
            dataset_id=ds_id,
            fingerprint=fingerprint,
            schema=schema,
            num_rows=num_rows,
            source_uri=source_uri,
            created_ms=now_ms(),
        )
        .on_conflict_do_nothing()
    )
    dv_id = conn.execute(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == ds_id, DatasetVersion.fingerprint == fingerprint)
    ).scalar_one()
    return dv_id, True


def add_run_input(conn: Connection, run_id: str, dataset_version_id: int, role: str) -> None:
    conn.execute(
        _upsert(conn)(RunInput)
        .values(run_id=run_id, dataset_version_id=dataset_version_id, role=role)
        .on_conflict_do_nothing()
    )


def list_run_inputs(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            RunInput.role,
            Dataset.name,
            DatasetVersion.id,
            DatasetVersion.fingerprint,
            DatasetVersion.num_rows,
            DatasetVersion.source_uri,
            DatasetVersion.schema,
        )
        .join(DatasetVersion, DatasetVersion.id == RunInput.dataset_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(RunInput.run_id == run_id)
        .order_by(RunInput.id)
    ).all()
    keys = ("role", "name", "dataset_version_id", "fingerprint", "num_rows", "source_uri", "schema")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def record_artifact(conn: Connection, run_id: str, path: str, digest: str, size: int) -> None:
    """Map a run's logical path to a stored object (logging the same path again replaces it)."""
    stmt = _upsert(conn)(Artifact).values(run_id=run_id, path=path, digest=digest, size=size, created_ms=now_ms())
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "path"],
        set_={
            "digest": stmt.excluded.digest,
            "size": stmt.excluded.size,
            "created_ms": stmt.excluded.created_ms,
        },
    )
    conn.execute(stmt)


def list_artifacts(conn: Connection, run_id: str, prefix: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Artifact.path, Artifact.digest, Artifact.size).where(Artifact.run_id == run_id)
    if prefix:
        stmt = stmt.where(Artifact.path.startswith(prefix.rstrip("/") + "/", autoescape=True))
    return [{"path": p, "digest": d, "size": s} for p, d, s in conn.execute(stmt.order_by(Artifact.path))]
