"""The metadata store's database handle: one SQLAlchemy engine per URL, tuned per backend.

SQLite (the default) runs in WAL mode with a busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of failing with
"database is locked" when a reader tries to upgrade. PostgreSQL is used as it is.

Example::

    db = Database("sqlite:////tmp/assay.db")
    with db.write() as conn:
        conn.execute(...)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from assay.errors import ConfigError, StoreError

__all__ = ["Database"]

SQLITE_BUSY_TIMEOUT_MS = 60_000
_IMMEDIATE = "assay_immediate"


class Database:
    """A metadata-store connection factory with ``read()`` and ``write()`` transactions."""

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise ConfigError(f"store URL {url!r} is not a valid database URL: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    @property
    def engine(self) -> Engine:
        """The engine for this process (a forked child gets a fresh one)."""
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    self._engine = self._create_engine()
                    self._pid = os.getpid()
        return self._engine

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            # Pooled connections: closing the last connection of a WAL database checkpoints and
            # fsyncs, which cost ~2 ms per transaction with a fresh connection each time.
            engine = create_engine(
                self.url,
                pool_size=5,
                max_overflow=10,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            _tune_sqlite(engine)
            return engine
        if self.dialect == "postgresql":
            return create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        return create_engine(self.url)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit, rolled back on error."""
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    def retrying_write(self, fn: Any, *, attempts: int = 8) -> Any:
        """Run ``fn(conn)`` in a write transaction, retrying transient lock and connection errors."""
        delay = 0.05
        for attempt in range(attempts):
            try:
                with self.write() as conn:
                    return fn(conn)
            except StoreError as exc:
                if attempt == attempts - 1 or not _is_transient(exc.__cause__):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreError(f"metadata store at {self.safe_url} failed: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _is_transient(exc: BaseException | None) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    text = str(exc.orig).lower()
    return exc.connection_invalidated or "locked" in text or "busy" in text or "deadlock" in text


def _normalise_url(url: str) -> str:
    if "://" not in url:  # a bare path means a SQLite file
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            for _ in range(50):  # switching to WAL needs a moment without other writers
                try:
                    cur.execute("PRAGMA journal_mode = WAL")
                    break
                except Exception:
                    time.sleep(0.1)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
