"""``assay db ...``: the metadata store's schema revision, and migrating it to the newest one.

Stores are also migrated automatically on first use; ``assay db upgrade`` does it explicitly
(e.g. in a deploy step, before jobs start), and ``assay db current`` never changes anything.

Example::

    $ assay db current
    $ assay db upgrade --store-url postgresql+psycopg://assay@db/assay
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from assay.cli.context import get_state
from assay.cli.render import JsonOption, print_json, stdout
from assay.store import Database, current_revision, head_revision, upgrade

__all__ = ["app", "migrate_store"]

app = typer.Typer(help="Metadata store schema: current revision and upgrades.", no_args_is_help=True)


def _missing_sqlite_file(db: Database) -> bool:
    """True when ``db`` is a SQLite file that does not exist yet (so reading must not create it)."""
    if db.dialect != "sqlite":
        return False
    database = make_url(db.url).database
    return bool(database) and database != ":memory:" and not Path(database).expanduser().exists()


def migrate_store(store_url: str) -> tuple[str | None, str]:
    """Bring the store at ``store_url`` to the head revision; return ``(revision before, revision after)``.

    Example::

        migrate_store("sqlite:////tmp/assay.db")   # (None, '0001') on a new store
    """
    db = Database(store_url)
    try:
        before = None if _missing_sqlite_file(db) else current_revision(db)
        after = upgrade(db)
    finally:
        db.dispose()
    return before, after


@app.command("upgrade")
def db_upgrade(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Migrate the metadata store's schema to the newest revision (a no-op when already there)."""
    url = get_state(ctx).settings().store_url
    before, after = migrate_store(url)
    safe = Database(url).safe_url
    if json_output:
        print_json({"store_url": safe, "from": before, "to": after, "changed": before != after})
        return
    if before == after:
        stdout().print(f"{safe} is already at the newest revision {after}.")
    else:
        stdout().print(f"Upgraded {safe}: {before or '(empty)'} → {after}.")


@app.command("current")
def db_current(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the store's schema revision and whether it is the newest this assay knows."""
    db = Database(get_state(ctx).settings().store_url)
    try:
        current = None if _missing_sqlite_file(db) else current_revision(db)
    finally:
        db.dispose()
    head = head_revision()
    if json_output:
        print_json({"store_url": db.safe_url, "current": current, "head": head, "up_to_date": current == head})
        return
    if current is None:
        stdout().print(f"{db.safe_url} has no schema yet; `assay db upgrade` (or `assay init`) creates it.")
    elif current == head:
        stdout().print(f"{db.safe_url} is at revision {current} (the newest).")
    else:
        stdout().print(f"{db.safe_url} is at revision {current}; the newest is {head}: run `assay db upgrade`.")
