"""Queries over model cards: the human-written fields of a model version's card, stored as JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from assay.store.models import ModelCard
from assay.store.runs import _upsert, now_ms

__all__ = ["get_card_fields", "merge_card_fields"]


def get_card_fields(conn: Connection, model_version_id: int) -> dict[str, Any] | None:
    """``{"fields", "updated_ms", "updated_by"}`` of a version's card, or ``None`` if nobody wrote one yet."""
    row = conn.execute(
        select(ModelCard.fields, ModelCard.updated_ms, ModelCard.updated_by).where(
            ModelCard.model_version_id == model_version_id
        )
    ).first()
    if row is None:
        return None
    return {"fields": dict(row.fields or {}), "updated_ms": row.updated_ms, "updated_by": row.updated_by}


def merge_card_fields(
    conn: Connection, model_version_id: int, changes: dict[str, str | None], actor: str
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Apply ``changes`` (a ``None`` value clears a field) to the stored fields; return ``(fields, applied)``.

    ``applied`` holds only the changes that differ from what was stored. Runs inside the caller's write
    transaction: ``BEGIN IMMEDIATE`` serialises writers on SQLite, a row lock does on PostgreSQL, so two
    concurrent edits of different fields both survive.
    """
    ts = now_ms()
    conn.execute(
        _upsert(conn)(ModelCard)
        .values(model_version_id=model_version_id, fields={}, updated_ms=ts, updated_by=actor)
        .on_conflict_do_nothing()
    )
    stmt = select(ModelCard.fields).where(ModelCard.model_version_id == model_version_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    current: dict[str, str] = dict(conn.execute(stmt).scalar_one() or {})
    applied: dict[str, str | None] = {}
    for key, value in changes.items():
        if value is None:
            if key in current:
                del current[key]
                applied[key] = None
        elif current.get(key) != value:
            current[key] = value
            applied[key] = value
    if applied:
        conn.execute(
            update(ModelCard)
            .where(ModelCard.model_version_id == model_version_id)
            .values(fields=current, updated_ms=ts, updated_by=actor)
        )
    return current, applied
