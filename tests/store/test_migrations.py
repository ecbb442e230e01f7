"""Schema migrations and the database handle."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from assay.errors import ConfigError, StoreError
from assay.store import Database, current_revision, head_revision, open_database, upgrade
from assay.store.models import Base, index_applies


def test_fresh_store_is_migrated_to_head(store_url: str) -> None:
    db = open_database(store_url)
    assert current_revision(db) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert upgrade(db) == head_revision()  # idempotent


def test_migrated_schema_matches_models(store_url: str) -> None:
    """The Alembic scripts and the SQLAlchemy models describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = open_database(store_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # indexes limited to another database by .ddl_if(dialect=...) are rightly absent
    declared = {i.name: i for t in Base.metadata.tables.values() for i in t.indexes}
    dialect = db.engine.dialect.name
    diff = [d for d in diff if not (d[0] == "add_index" and not index_applies(declared[d[1].name], dialect))]
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    with db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_bare_path_means_sqlite(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "x.db"))
    assert db.url.startswith("sqlite:///") and db.dialect == "sqlite"
    assert Database("postgresql://u@h/db").url.startswith("postgresql+psycopg://")


def test_bad_urls() -> None:
    with pytest.raises(ConfigError, match="not a valid database URL"):
        Database("://nonsense")


def test_unreachable_postgres_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreError, match="metadata store at"), db.read() as conn:
        conn.execute(text("SELECT 1"))


def test_write_rolls_back_on_error(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(text("INSERT INTO projects (name, created_ms) VALUES ('p', 0)"))
        raise RuntimeError("abort")
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM projects")).scalar() == 0


def test_upgrade_from_first_revision_keeps_data(store_url: str) -> None:
    db = Database(store_url)
    upgrade(db, "0001")
    assert current_revision(db) == "0001"
    with db.write() as conn:
        conn.execute(text("INSERT INTO projects (name, created_ms) VALUES ('kept', 1)"))
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.read() as conn:
        assert conn.execute(text("SELECT name FROM projects")).scalar() == "kept"
        assert conn.execute(text("SELECT count(*) FROM experiments")).scalar() == 0
    db.dispose()
