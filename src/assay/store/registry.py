"""Queries over registered models, model versions and aliases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from assay.errors import NotFoundError
from assay.store.models import Alias, ModelVersion, RegisteredModel
from assay.store.runs import _upsert, now_ms

__all__ = [
    "create_version",
    "delete_alias",
    "get_model_id",
    "get_version_row",
    "list_models",
    "list_versions",
    "resolve_alias",
    "set_alias",
]


def get_model_id(conn: Connection, name: str) -> int:
    mid = conn.execute(select(RegisteredModel.id).where(RegisteredModel.name == name)).scalar()
    if mid is None:
        known = list(conn.execute(select(RegisteredModel.name).order_by(RegisteredModel.name).limit(20)).scalars())
        raise NotFoundError(f"model {name!r} not found; registered models: {known}")
    return mid


def create_version(conn: Connection, name: str, values: dict[str, Any], *, description: str | None = None) -> int:
    """Insert the next version of ``name`` (model created if new); return its number.

    Runs inside a write transaction: ``BEGIN IMMEDIATE`` serialises writers on SQLite, and on
    PostgreSQL a row lock on the registered model serialises concurrent registrations.
    """
    ts = now_ms()
    conn.execute(
        _upsert(conn)(RegisteredModel)
        .values(name=name, description=description, created_ms=ts, updated_ms=ts)
        .on_conflict_do_nothing()
    )
    mid = get_model_id(conn, name)
    if conn.dialect.name == "postgresql":  # serialise version numbering per model
        conn.execute(select(RegisteredModel.id).where(RegisteredModel.id == mid).with_for_update())
    nxt = (conn.execute(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == mid)).scalar() or 0) + 1
    conn.execute(ModelVersion.__table__.insert().values(model_id=mid, version=nxt, created_ms=ts, **values))
    conn.execute(update(RegisteredModel).where(RegisteredModel.id == mid).values(updated_ms=ts))
    return nxt


def get_version_row(conn: Connection, name: str, version: int) -> Any:
    mid = get_model_id(conn, name)
    row = conn.execute(
        select(ModelVersion.__table__).where(ModelVersion.model_id == mid, ModelVersion.version == version)
    ).first()
    if row is None:
        versions = list(
            conn.execute(
                select(ModelVersion.version).where(ModelVersion.model_id == mid).order_by(ModelVersion.version)
            ).scalars()
        )
        raise NotFoundError(f"model {name!r} has no version {version}; its versions are {versions}")
    return row


def latest_version(conn: Connection, name: str) -> int:
    mid = get_model_id(conn, name)
    v = conn.execute(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == mid)).scalar()
    if v is None:
        raise NotFoundError(f"model {name!r} has no versions yet")
    return v


def list_versions(conn: Connection, name: str) -> list[Any]:
    mid = get_model_id(conn, name)
    return list(
        conn.execute(
            select(ModelVersion.__table__).where(ModelVersion.model_id == mid).order_by(ModelVersion.version)
        ).all()
    )


def aliases_of(conn: Connection, name: str) -> dict[str, int]:
    mid = get_model_id(conn, name)
    return dict(conn.execute(select(Alias.alias, Alias.version).where(Alias.model_id == mid)).all())


def set_alias(conn: Connection, name: str, alias: str, version: int) -> int | None:
    """Point ``alias`` at ``version``; return the version it pointed at before (or None)."""
    get_version_row(conn, name, version)
    mid = get_model_id(conn, name)
    previous = conn.execute(select(Alias.version).where(Alias.model_id == mid, Alias.alias == alias)).scalar()
    stmt = _upsert(conn)(Alias).values(model_id=mid, alias=alias, version=version, updated_ms=now_ms())
    stmt = stmt.on_conflict_do_update(
        index_elements=["model_id", "alias"],
        set_={"version": stmt.excluded.version, "updated_ms": stmt.excluded.updated_ms},
    )
    conn.execute(stmt)
    return previous


def delete_alias(conn: Connection, name: str, alias: str) -> int:
    mid = get_model_id(conn, name)
    previous = conn.execute(select(Alias.version).where(Alias.model_id == mid, Alias.alias == alias)).scalar()
    if previous is None:
        raise NotFoundError(f"model {name!r} has no alias {alias!r}; aliases: {sorted(aliases_of(conn, name))}")
    conn.execute(delete(Alias).where(Alias.model_id == mid, Alias.alias == alias))
    return previous


def resolve_alias(conn: Connection, name: str, alias: str) -> int:
    mid = get_model_id(conn, name)
    v = conn.execute(select(Alias.version).where(Alias.model_id == mid, Alias.alias == alias)).scalar()
    if v is None:
        known = aliases_of(conn, name)
        raise NotFoundError(
            f"model {name!r} has no alias {alias!r}; its aliases are {known or 'none'}. "
            f"Set one with `assay models alias {name} {alias} VERSION`"
        )
    return v


def list_models(conn: Connection) -> list[dict[str, Any]]:
    latest = (
        select(ModelVersion.model_id, func.max(ModelVersion.version).label("latest"), func.count().label("n"))
        .group_by(ModelVersion.model_id)
        .subquery()
    )
    rows = conn.execute(
        select(RegisteredModel.__table__, latest.c.latest, latest.c.n)
        .outerjoin(latest, latest.c.model_id == RegisteredModel.id)
        .order_by(RegisteredModel.name)
    ).all()
    aliases: dict[int, dict[str, int]] = {}
    for mid, alias, version in conn.execute(select(Alias.model_id, Alias.alias, Alias.version)):
        aliases.setdefault(mid, {})[alias] = version
    return [
        {
            "name": m.name,
            "description": m.description,
            "latest_version": m.latest,
            "versions": m.n or 0,
            "aliases": aliases.get(m.id, {}),
            "updated_ms": m.updated_ms,
        }
        for m in rows
    ]
