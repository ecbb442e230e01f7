"""The metadata store: SQLAlchemy models, queries, migrations. SQLite by default, PostgreSQL by URL."""

import threading

from assay.store.database import Database
from assay.store.migrate import current_revision, head_revision, upgrade

__all__ = ["Database", "current_revision", "head_revision", "open_database", "upgrade"]

_opened: dict[str, Database] = {}
_lock = threading.Lock()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """A :class:`Database` for ``url``, its schema brought to head on first use in this process.

    Thread-safe: concurrent first uses of one URL share a single handle and a single migration.
    """
    db = _opened.get(url)
    if db is not None:
        return db
    with _lock:
        db = _opened.get(url)
        if db is None:
            db = Database(url)
            if migrate:
                upgrade(db)
            _opened[url] = db
    return db
