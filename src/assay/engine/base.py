"""The engine interface, the URL factory, and what every backend shares.

An :class:`Engine` runs SQL where the data lives and hands back only the (small) result as
Arrow. SQL is always written in DuckDB's dialect; other backends get it transpiled by sqlglot
(see :meth:`Engine.transpile`). Parameters are written ``$name`` and bound by the driver.

Example::

    from assay.engine import connect
    with connect() as eng:                                   # in-process DuckDB
        eng.register("orders", "data/orders/")               # a folder of Parquet
        eng.sql("select status, count(*) as n from orders where amount > $min group by all",
                {"min": 10}).to_pylist()
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from assay.engine._sql import check_name, check_params, to_dialect
from assay.engine.sqlcheck import referenced_tables
from assay.errors import AssayError, ConfigError, InvalidInputError, StateError

__all__ = ["Engine", "connect"]

_RELATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_PARQUET = (".parquet", ".pq", ".parq")
_CSV = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")
_JSON = (".json", ".jsonl", ".ndjson")
_MAX_LISTED = 40


@dataclass(frozen=True)
class Source:
    """What :meth:`Engine.register` was given, classified once for every backend.

    ``kind`` is ``"files"`` (``fmt`` parquet/csv/json, ``path`` as given or a glob, ``files`` the
    matches, ``folder`` set for a directory) or ``"arrow"`` (``data`` the object as given — a pyarrow
    Table or a pandas DataFrame, which DuckDB scans in place; :meth:`table` converts when needed).
    """

    kind: Literal["files", "arrow"]
    fmt: str | None = None
    path: str | None = None
    files: list[str] = field(default_factory=list)
    folder: str | None = None
    data: Any = None

    def table(self) -> pa.Table:
        """The in-memory source as a pyarrow Table (pandas index dropped)."""
        if isinstance(self.data, pa.Table):
            return self.data
        if _is_pandas(self.data):
            return pa.Table.from_pandas(self.data, preserve_index=False)
        return pa.table(self.data)


def _is_pandas(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _format_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(_PARQUET):
        return "parquet"
    if low.endswith(_CSV):
        return "csv"
    if low.endswith(_JSON):
        return "json"
    return None


def classify_source(source: object) -> Source:
    """Classify a path, glob, folder, pandas DataFrame or Arrow table (anything with ``__arrow_c_stream__``)."""
    if isinstance(source, pa.Table):
        return Source("arrow", data=source)
    if isinstance(source, pa.RecordBatchReader):
        return Source("arrow", data=source.read_all())
    if _is_pandas(source):
        return Source("arrow", data=source)
    if hasattr(source, "__arrow_c_stream__") and not isinstance(source, str | os.PathLike):
        return Source("arrow", data=pa.table(source))
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(
            f"cannot register a {type(source).__name__}: pass a Parquet/CSV path, glob or folder, "
            "a pandas DataFrame or a pyarrow Table"
        )
    path = os.fspath(source)
    if "://" in path:  # remote (s3://, gs://, https://): the engine reads it, we cannot list it here
        fmt = _format_of(path.rstrip("/")) or "parquet"
        return Source("files", fmt=fmt, path=path, files=[path])
    if any(ch in path for ch in "*?["):
        files = sorted(f for f in glob.glob(path, recursive=True) if os.path.isfile(f))
        if not files:
            raise InvalidInputError(f"no files match {path!r}")
        fmt = _format_of(path) or _format_of(files[0]) or _sniff(files[0])
        return Source("files", fmt=fmt, path=path, files=files)
    p = Path(path)
    if p.is_dir():
        for fmt, suffixes in (("parquet", _PARQUET), ("csv", _CSV), ("json", _JSON)):
            files = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(suffixes))
            files = [f for f in files if not Path(f).name.startswith(("_", "."))]
            if files:
                pattern = str(p / "**" / f"*{Path(files[0]).suffix}")
                return Source("files", fmt=fmt, path=pattern, files=files, folder=str(p))
        raise InvalidInputError(f"folder {path!r} holds no Parquet, CSV or JSON files")
    if not p.is_file():
        raise InvalidInputError(f"file not found: {path!r}")
    return Source("files", fmt=_format_of(path) or _sniff(path), path=path, files=[path])


def _sniff(path: str) -> str:
    """Parquet files start with ``PAR1``; anything else without a known suffix is refused."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path!r}: {exc}") from exc
    raise InvalidInputError(f"cannot tell the format of {path!r}: name it .parquet, .csv or .json")


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", ... (+{len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


class Engine(ABC):
    """One connection to a compute engine; SQL in DuckDB's dialect in, Arrow out.

    Subclasses implement ``_execute``, ``_describe``, ``_register``, ``_tables``, ``_translate``
    and ``_close``; the public methods here validate input, transpile, bind parameters and turn
    engine exceptions into :mod:`assay.errors`. An engine is usable from several threads (calls
    are serialised); it is not meant to be shared across processes.

    Example::

        eng = connect()
        eng.register("t", pa.table({"x": [1, 2, 3]}))
        eng.scalar("select sum(x) from t where x > $lo", {"lo": 1})   # Decimal('5') — cast to DOUBLE for a float
    """

    dialect: str = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self._closed = False
        self._lock = threading.RLock()

    # -- public API -------------------------------------------------------------------------
    def register(self, name: str, source: object) -> None:
        """Make ``source`` queryable as ``name`` (replacing an earlier registration of that name).

        ``source``: a Parquet/CSV file, a glob, a folder of Parquet (hive partitions become
        columns), a pandas DataFrame or a pyarrow Table. DuckDB and Spark read files in place;
        PostgreSQL copies the rows into a TEMP table (see its engine's docs).
        """
        self._check_open()
        check_name(name)
        src = classify_source(source)
        with self._lock:
            try:
                self._register(name, src)
            except AssayError:
                raise
            except Exception as exc:
                raise self._translate(exc, None, src) from exc

    def sql(self, sql: str, params: Mapping[str, object] | None = None) -> pa.Table:
        """Run ``sql`` (DuckDB dialect; ``$name`` parameters bound from ``params``) and return Arrow.

        Meant for aggregates and other small results: the whole result is materialised.
        Runs trusted SQL as given; check user-typed SQL with :func:`assay.engine.sqlcheck.parse_select`.

        >>> connect().sql("select 40 + $x as answer", {"x": 2}).to_pylist()
        [{'answer': 42}]
        """
        self._check_open()
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidInputError("sql must be a non-empty string")
        text = self.transpile(sql)
        bound = check_params(sql, params)
        with self._lock:
            try:
                return self._execute(text, bound)
            except AssayError:
                raise
            except Exception as exc:
                raise self._translate(exc, sql, None) from exc

    def scalar(self, sql: str, params: Mapping[str, object] | None = None) -> object:
        """First column of the first row as a Python value (``None`` for an empty result).

        >>> connect().scalar("select count(*) from range(10)")
        10
        """
        table = self.sql(sql, params)
        if table.num_rows == 0 or table.num_columns == 0:
            return None
        return table.column(0)[0].as_py()

    def columns(self, relation_or_select: str) -> dict[str, str]:
        """Column name → the engine's own type name, for a registered name, a table, or a SELECT.

        A SELECT is only planned (DuckDB/Spark) or run with ``LIMIT 0`` (PostgreSQL), never scanned.

        >>> connect().columns("select 1::bigint as id, 'a' as s")
        {'id': 'BIGINT', 's': 'VARCHAR'}
        """
        return dict(self._describe_checked(relation_or_select)[0])

    def schema(self, relation_or_select: str) -> pa.Schema:
        """The Arrow schema a query over ``relation_or_select`` would return (same rules as :meth:`columns`)."""
        return self._describe_checked(relation_or_select)[1]

    def tables(self) -> list[str]:
        """Names of the tables and views queries can refer to (registered ones included), sorted."""
        self._check_open()
        with self._lock:
            try:
                return sorted(set(self._tables()))
            except AssayError:
                raise
            except Exception as exc:
                raise self._translate(exc, None, None) from exc

    def transpile(self, sql: str) -> str:
        """The statement this engine would run for DuckDB-dialect ``sql`` (unchanged on DuckDB).

        >>> connect("duckdb://").transpile("select md5(a || ':' || b) from t")
        "select md5(a || ':' || b) from t"
        """
        return to_dialect(sql, self.dialect)

    def close(self) -> None:
        """Release the connection (idempotent). Registered names disappear with it."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
            self._close()

    @property
    @abstractmethod
    def native(self) -> Any:
        """The underlying handle (DuckDB connection, SparkSession, psycopg connection) — an escape hatch."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.url} ({state})>"

    # -- backend hooks --------------------------------------------------------------------
    @abstractmethod
    def _execute(self, text: str, params: dict[str, object]) -> pa.Table: ...

    @abstractmethod
    def _describe(self, text: str) -> tuple[list[tuple[str, str]], pa.Schema]:
        """Columns and Arrow schema of a SELECT (already in this engine's dialect), without scanning."""

    @abstractmethod
    def _register(self, name: str, source: Source) -> None: ...

    @abstractmethod
    def _tables(self) -> list[str]: ...

    @abstractmethod
    def _translate(self, exc: Exception, sql: str | None, source: Source | None) -> AssayError:
        """Turn a backend exception into an assay error (the caller chains it with ``from``)."""

    @abstractmethod
    def _close(self) -> None: ...

    # -- shared helpers ---------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StateError(f"{self!r} is closed; connect() again")

    def _describe_checked(self, relation_or_select: str) -> tuple[list[tuple[str, str]], pa.Schema]:
        self._check_open()
        if not isinstance(relation_or_select, str) or not relation_or_select.strip():
            raise InvalidInputError("pass a table name or a SELECT statement")
        target = relation_or_select.strip().rstrip(";").strip()
        select = f"SELECT * FROM {target}" if _RELATION.match(target) else f"SELECT * FROM (\n{target}\n) AS _assay_q"
        text = self.transpile(select)
        with self._lock:
            try:
                return self._describe(text)
            except AssayError:
                raise
            except Exception as exc:
                raise self._translate(exc, select, None) from exc

    def _available_columns(self, table: str) -> list[str] | None:
        try:
            return list(self.columns(table))
        except Exception:
            return None

    def missing_column(self, column: str, sql: str | None, detail: str = "") -> InvalidInputError:
        """The "column 'x' not found in 't'; available: a, b" error, listing the query's tables' columns."""
        try:
            tables = sorted(referenced_tables(sql)) if sql else []
        except Exception:
            tables = []
        known = {t: cols for t in tables if (cols := self._available_columns(t)) is not None}
        message = f"column '{column}' not found"
        if len(known) == 1:
            (table, cols), *_ = known.items()
            message += f" in '{table}'; available: {_listing(cols)}"
        elif known:
            message += " in " + ", ".join(f"'{t}'" for t in known) + "; available: "
            message += "; ".join(f"{t}: {_listing(cols)}" for t, cols in known.items())
        candidates = [c for cols in known.values() for c in cols]
        close = difflib.get_close_matches(column, candidates, n=1) or difflib.get_close_matches(
            column.lower(), [c.lower() for c in candidates], n=1
        )
        if close:
            message += f". Did you mean '{close[0]}'?"
        return InvalidInputError(message + (f"\n{detail}" if detail else ""))

    def missing_table(self, table: str, detail: str = "") -> InvalidInputError:
        """The "table 'x' not found; available: a, b" error."""
        try:
            names = sorted(set(self._tables()))
        except Exception:
            names = []
        message = f"table '{table}' not found; available: {_listing(names) if names else '(none registered)'}"
        close = difflib.get_close_matches(table, names, n=1)
        if close:
            message += f". Did you mean '{close[0]}'?"
        message += " (register files or DataFrames with eng.register(name, source))"
        return InvalidInputError(message + (f"\n{detail}" if detail else ""))


def _spark_master(url: str) -> str:
    rest = url.split("://", 1)[1].strip("/")
    if not rest:
        return "local[*]"
    if rest.startswith("local"):
        return rest
    return f"spark://{rest}"  # a standalone cluster master, e.g. spark://host:7077


def connect(url: str | None = None, **options: Any) -> Engine:
    """Open an engine for ``url`` (default: in-process, in-memory DuckDB).

    * ``None`` / ``"duckdb://"`` — in-memory DuckDB; ``"duckdb:///file.duckdb"`` a database file
      (relative path; four slashes for an absolute one, as in SQLAlchemy). Options: ``threads``
      (default: all cores), ``memory_limit`` (e.g. ``"8GB"``), ``read_only``, ``config`` (any DuckDB setting).
    * ``"spark://"`` (``local[*]``), ``"spark://local[2]"``, ``"spark://host:7077"`` — a SparkSession,
      created on first use and shared by the process. Options: ``conf`` (dict of Spark settings),
      ``app_name``, ``stop_on_close``.
    * ``"postgresql://user@host:5432/db"`` (or ``postgresql+psycopg://``) — PostgreSQL through
      SQLAlchemy/psycopg. Options: ``schema`` (search path), ``connect_timeout`` (seconds).

    Raises :class:`~assay.errors.ConfigError` for an unknown scheme or a backend that is not installed,
    :class:`~assay.errors.StoreError` when the server or database file cannot be reached.

    >>> connect().dialect
    'duckdb'
    """
    if url is None or url.strip() in ("", "duckdb", "duckdb:", "duckdb://", "duckdb:///:memory:"):
        from assay.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(None, **options)
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"Engine URL {url!r} has no scheme: use duckdb://, duckdb:///file.duckdb, spark://local[*] "
            "or postgresql://user@host:5432/db"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme == "duckdb":
        from assay.engine.duckdb_engine import DuckDBEngine

        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        return DuckDBEngine(path or None, **options)
    if scheme == "spark":
        from assay.engine.spark_engine import SparkEngine

        return SparkEngine(_spark_master(url), **options)
    if scheme in ("postgresql", "postgres") or scheme.startswith(("postgresql+", "postgres+")):
        from assay.engine.postgres_engine import PostgresEngine

        return PostgresEngine(url, **options)
    raise ConfigError(
        f"Unsupported engine URL scheme '{scheme}://'. Supported: duckdb://, duckdb:///file.duckdb, "
        "spark://local[*], postgresql://user@host:5432/db"
    )
