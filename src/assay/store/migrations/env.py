"""Alembic environment: runs on the connection handed over by ``assay.store.migrate``."""

from __future__ import annotations

from alembic import context

from assay.store.models import Base, index_applies

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` command line, which assay does not use
    raise RuntimeError("assay migrations run through `assay db upgrade` or assay.store.migrate.upgrade()")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Skip indexes declared for another database (``Index(...).ddl_if(dialect=...)``)."""
    if type_ != "index" or reflected:
        return True
    declared = {i.name: i for t in Base.metadata.tables.values() for i in t.indexes}
    return index_applies(declared.get(name, obj), connection.dialect.name)


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
