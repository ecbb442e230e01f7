"""DuckDB backend: in-process, the default; files are scanned in place, results come back as Arrow.

* Files and folders become TEMP views over ``read_parquet`` / ``read_csv`` / ``read_json``
  (hive-partitioned folders expose their partition columns); pandas DataFrames and Arrow
  tables are registered zero-copy. Nothing is loaded until a query runs.
* All cores are used (``threads``); ``memory_limit`` and any other DuckDB setting can be passed.
* DuckDB's replacement scans of Python variables are switched off, so an unknown table name is
  an error rather than a silent read of some DataFrame that happens to be in scope.

Example::

    eng = connect("duckdb://", memory_limit="4GB")
    eng.register("events", "data/events/*.parquet")
    eng.sql("select variant, count(distinct user_id) as users from events group by all")
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.engine.base import Engine, Source
from assay.errors import AssayError, ConfigError, InvalidInputError, StoreError

__all__ = ["DuckDBEngine"]

_COLUMN_PATTERNS = (
    re.compile(r'Referenced column "([^"]+)" not found'),
    re.compile(r'does not have a column named "([^"]+)"'),
    re.compile(r'Column "([^"]+)" (?:referenced|not found)'),
)
_TABLE_PATTERN = re.compile(r"Table with name ([^\s!]+) does not exist")
_READERS = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json_auto"}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 1


def _literal(text: str) -> str:
    """A SQL string literal (paths only: DuckDB cannot bind parameters inside CREATE VIEW)."""
    return "'" + text.replace("'", "''") + "'"


def _to_arrow(result: Any) -> pa.Table:
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):  # DuckDB 2.x, 1.x, older
        method = getattr(result, name, None)
        if method is not None:
            table = method()
            return table if isinstance(table, pa.Table) else table.read_all()
    raise StoreError("this DuckDB version cannot return Arrow tables")  # pragma: no cover


def _message(exc: Exception) -> str:
    return str(exc).strip()


class DuckDBEngine(Engine):
    """An in-process DuckDB connection (in memory, or a database file).

    Options: ``threads`` (default: the cores this process may use), ``memory_limit``
    (e.g. ``"8GB"``), ``temp_directory``, ``read_only``, ``config`` (dict of any DuckDB setting).

    >>> eng = DuckDBEngine(None, threads=2)
    >>> eng.scalar("select current_setting('threads')")
    2
    """

    dialect = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        read_only: bool = False,
        config: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        import duckdb

        database = os.fspath(path) if path else ":memory:"
        super().__init__("duckdb://" if database == ":memory:" else f"duckdb:///{database}")
        cfg: dict[str, Any] = {"threads": int(threads or _cores()), "python_enable_replacements": False}
        if memory_limit:
            cfg["memory_limit"] = str(memory_limit)
        cfg.update(settings)
        cfg.update(config or {})
        if database != ":memory:" and not read_only:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(database=database, read_only=read_only, config=cfg)
        except duckdb.InvalidInputException as exc:
            raise ConfigError(f"invalid DuckDB option: {_message(exc)}") from exc
        except duckdb.Error as exc:
            raise StoreError(f"cannot open DuckDB database {database!r}: {_message(exc)}") from exc
        self._duckdb = duckdb
        self._arrow_names: set[str] = set()

    @property
    def native(self) -> Any:
        """The ``duckdb.DuckDBPyConnection`` (shares registered views with this engine)."""
        return self._con

    def fork(self) -> DuckDBEngine:
        """A second connection to the same database, for queries on another thread.

        Calls on one engine are serialised; a fork runs beside it (DuckDB executes both at once). The
        temporary views over files are recreated in the fork; registered DataFrames and Arrow tables
        are not (register them there again). Close the fork when done; the database stays open.
        """
        self._check_open()
        twin = object.__new__(DuckDBEngine)
        Engine.__init__(twin, self.url)
        with self._lock:
            twin._con = self._con.cursor()
            views = self._con.execute(
                "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal"
            ).fetchall()
        twin._duckdb = self._duckdb
        twin._arrow_names = set()
        for name, sql in views:
            if name in self._arrow_names:
                continue
            try:
                twin._con.execute(sql)
            except self._duckdb.Error:  # e.g. a view over a registered DataFrame: not in the fork
                continue
        return twin

    # -- hooks ------------------------------------------------------------------------------
    def _execute(self, text: str, params: dict[str, object]) -> pa.Table:
        relation = self._con.sql(text, params=params or None)
        if relation is None:  # a statement without a result (DuckDB 1.x)
            return pa.table({})
        return _to_arrow(relation)

    def _describe(self, text: str) -> tuple[list[tuple[str, str]], pa.Schema]:
        relation = self._con.sql(text)  # planned lazily: nothing is scanned
        cols = [(name, str(dtype)) for name, dtype in zip(relation.columns, relation.types, strict=True)]
        schema = _to_arrow(self._con.sql(f"SELECT * FROM ({text}\n) AS _assay_s LIMIT 0")).schema
        return cols, schema

    def _drop(self, name: str) -> None:
        if name in self._arrow_names:
            self._con.unregister(name)
            self._arrow_names.discard(name)
        self._con.execute(f'DROP VIEW IF EXISTS temp.main."{name}"')  # only our temp views, never a stored table

    def _register(self, name: str, source: Source) -> None:
        self._drop(name)
        if source.kind == "arrow":
            try:
                self._con.register(name, source.data)  # pandas and Arrow are scanned in place
            except self._duckdb.NotImplementedException:  # e.g. pandas 3 "str" columns on DuckDB < 1.2
                self._con.register(name, source.table())
            self._arrow_names.add(name)
            return
        reader = _READERS[source.fmt or "parquet"]
        target = _literal(source.path or source.files[0])
        extra = ", hive_partitioning = true" if source.folder and source.fmt == "parquet" else ""
        self._con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM {reader}({target}{extra})')

    def _tables(self) -> list[str]:
        rows = self._con.sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
        ).fetchall()
        return [r[0] for r in rows]

    def _translate(self, exc: Exception, sql: str | None, source: Source | None) -> AssayError:
        duckdb = self._duckdb
        message = _message(exc)
        if source is not None and source.kind == "files":
            what = source.folder or source.path
            return InvalidInputError(f"cannot read {what!r} as {source.fmt}: {message.splitlines()[0]}")
        if isinstance(exc, duckdb.BinderException):
            for pattern in _COLUMN_PATTERNS:
                if match := pattern.search(message):
                    return self.missing_column(match.group(1), sql)
        if isinstance(exc, duckdb.CatalogException) and (match := _TABLE_PATTERN.search(message)):
            return self.missing_table(match.group(1).strip('"'))
        if isinstance(exc, duckdb.IOException | duckdb.InvalidInputException) and "file" in message.lower():
            return InvalidInputError(f"cannot read a file behind this query: {message}")
        if isinstance(exc, duckdb.OutOfMemoryException | duckdb.InternalException | duckdb.FatalException):
            return StoreError(f"DuckDB failed: {message}")
        if isinstance(exc, duckdb.Error):
            return InvalidInputError(message)
        return StoreError(f"DuckDB failed: {type(exc).__name__}: {message}")

    def _close(self) -> None:
        self._con.close()
