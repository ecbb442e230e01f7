"""``assay init``: write an explained ``assay.toml``, create the metadata store and the artifacts folder.

Example::

    $ assay init                      # in the current folder, with the resolved settings
    $ assay --store-url postgresql+psycopg://assay@db/assay init ./churn --force
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from assay.artifacts import ArtifactStore
from assay.cli.context import get_state
from assay.cli.db import migrate_store
from assay.cli.render import kv_table, stderr, stdout
from assay.config import Settings
from assay.errors import ConfigError, ConflictError
from assay.store import Database

__all__ = ["init", "settings_toml"]

FILENAME = "assay.toml"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def settings_toml(settings: Settings) -> str:
    """The text of an ``assay.toml`` holding ``settings``, each key explained in a comment.

    Example::

        Path("assay.toml").write_text(settings_toml(Settings.load()))
    """
    return f"""\
# assay settings, read by `assay` and `assay.Client()` when they run in this folder.
# Precedence, highest first: explicit arguments and command-line options (--home, --store-url,
# --artifacts-url), environment variables (ASSAY_HOME, ASSAY_STORE_URL, ASSAY_ARTIFACTS_URL),
# this file, then the defaults (~/.assay, a SQLite file and a folder inside it).

[assay]
# Folder for assay's own files (model cache; the default store and artifacts live here too).
home = {_toml_string(str(settings.home))}

# Metadata store (projects, runs, params, metrics, models): a SQLAlchemy database URL.
# SQLite suits one machine; a team shares PostgreSQL, e.g. "postgresql+psycopg://user@host:5432/assay"
# (keep passwords out of this file: set ASSAY_STORE_URL in the environment instead).
store_url = {_toml_string(settings.store_url)}

# Artifact store (files and models, content-addressed): a local folder or an fsspec URL such as
# "s3://bucket/assay" or "gs://bucket/assay".
artifacts_url = {_toml_string(settings.artifacts_url)}
"""


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _absolute(settings: Settings) -> Settings:
    """``settings`` with the home folder and a local artifacts folder as absolute paths."""
    artifacts = settings.artifacts_url
    if _is_local(artifacts):
        artifacts = str(Path(artifacts.removeprefix("file://")).expanduser().resolve())
    return Settings(home=settings.home.expanduser().resolve(), store_url=settings.store_url, artifacts_url=artifacts)


def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Folder to initialise (default: the current folder).", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=f"Overwrite an existing {FILENAME}.")] = False,
) -> None:
    """Write an explained assay.toml, create the metadata store (schema at head) and the artifacts folder."""
    folder = (path or Path.cwd()).expanduser().resolve()
    target = folder / FILENAME
    if target.exists() and not force:
        raise ConflictError(f"{target} already exists; pass --force to overwrite it")
    state = get_state(ctx)
    try:
        settings = state.settings(cwd=folder)
    except ConfigError:
        if not force:
            raise
        with tempfile.TemporaryDirectory() as empty:  # --force: ignore the unreadable file being replaced
            settings = state.settings(cwd=empty)
    settings = _absolute(settings)
    db = Database(settings.store_url)
    safe_url = db.safe_url
    if make_url(db.url).password:
        stderr().print(
            f"[yellow]warning:[/] {FILENAME} will contain the store's password; "
            "prefer ASSAY_STORE_URL in the environment and keep the file out of version control."
        )
    folder.mkdir(parents=True, exist_ok=True)
    settings.home.mkdir(parents=True, exist_ok=True)
    before, after = migrate_store(settings.store_url)
    if _is_local(settings.artifacts_url):
        ArtifactStore(settings.artifacts_url)  # creates the folder
        artifacts_note = settings.artifacts_url
    else:
        artifacts_note = f"{settings.artifacts_url} (remote: nothing to create)"
    target.write_text(settings_toml(settings), encoding="utf-8")
    schema = f"schema {after}" + (" (created)" if before is None else " (upgraded)" if before != after else "")
    console = stdout()
    console.print(f"Initialised assay in {folder}")
    console.print(
        kv_table(
            [
                ("settings", str(target)),
                ("home", str(settings.home)),
                ("metadata store", f"{safe_url}, {schema}"),
                ("artifacts", artifacts_note),
            ]
        )
    )
    console.print("Next: log a run with `assay.start_run(...)`, then `assay runs list` (or try `assay demo`).")
