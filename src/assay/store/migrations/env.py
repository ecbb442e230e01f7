"""Alembic environment: runs on the connection handed over by ``assay.store.migrate``."""

from __future__ import annotations

from alembic import context

from assay.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` command line, which assay does not use
    raise RuntimeError("assay migrations run through `assay db upgrade` or assay.store.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
