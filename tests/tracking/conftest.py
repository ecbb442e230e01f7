"""Fixtures for store-backed tracking tests: an empty metadata schema on SQLite and, when
``ASSAY_TEST_POSTGRES_URL`` is set (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
on PostgreSQL in a schema of its own (``t_<uuid>``, dropped afterwards) so parallel runs never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from assay.store.models import Base

PG_URL = os.environ.get("ASSAY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(scope="module", params=BACKENDS)
def store_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine on a freshly created, empty metadata schema (one per test module and backend)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "assay.db"
        engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("set ASSAY_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_engine(_pg_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(_pg_url(PG_URL), connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
