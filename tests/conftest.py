"""Shared fixtures: every store-backed test runs on SQLite and, when ASSAY_TEST_POSTGRES_URL is set,
on PostgreSQL too (each test in a schema of its own, dropped afterwards)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import assay
from assay.engine import Engine, connect
from assay.tracking.client import Client

PG_URL = os.environ.get("ASSAY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
ENGINE_KINDS = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spark", marks=pytest.mark.slow),
]


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test touches ~/.assay or the default client of another test."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSAY_STORE_URL", raising=False)
    monkeypatch.delenv("ASSAY_ARTIFACTS_URL", raising=False)
    monkeypatch.delenv("ASSAY_TRACKING_URL", raising=False)  # a developer's remote server must not get test runs
    monkeypatch.delenv("ASSAY_TOKEN", raising=False)
    assay.set_client(None)
    yield
    assay.set_client(None)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assay.db'}"
        return
    if not PG_URL:
        pytest.skip("set ASSAY_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        from assay.store import _opened

        db = _opened.pop(_pg_schema_url(PG_URL, schema), None)
        if db is not None:
            db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[Client]:
    """A client on a fresh store (both backends), also installed as the default for fluent calls."""
    c = Client(store_url=store_url, artifacts_url=str(tmp_path / "artifacts"), home=tmp_path / "home")
    assay.set_client(c)
    yield c
    assay.set_client(None)
    c.close()


@pytest.fixture(scope="module", params=ENGINE_KINDS)
def backend_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One compute engine per backend for a whole test module: in-process DuckDB always, PostgreSQL (in a
    schema of its own, dropped afterwards) when ASSAY_TEST_POSTGRES_URL is set, Spark local mode when
    pyspark and Java are installed. Spark start-up and PostgreSQL schemas are paid once per module."""
    kind = request.param
    if kind == "duckdb":
        with connect() as eng:
            yield eng
        return
    if kind == "spark":
        if not HAVE_SPARK:
            pytest.skip("pyspark or Java not installed")
        with connect("spark://local[2]") as eng:
            yield eng
        return
    if not PG_URL:
        pytest.skip("set ASSAY_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"eng_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with connect(PG_URL, schema=schema) as eng:
            yield eng
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
