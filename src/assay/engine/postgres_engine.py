"""PostgreSQL backend: SQL runs in the server; SQLAlchemy opens the connection, psycopg 3 does the work.

* One dedicated connection per engine (autocommit), so TEMP tables live as long as the engine.
* ``register()`` **moves data**: a DataFrame, Arrow table or Parquet/CSV file is streamed into a
  ``TEMP`` table with ``COPY ... FROM STDIN (FORMAT csv)``, batch by batch (files are read with
  pyarrow, never whole into memory). Use it for reference data and tests; for large tables, load
  them into the warehouse once and query them by name. Column names are created in lower case
  (PostgreSQL folds unquoted names), so DuckDB-style unquoted SQL finds them.
* Results are fetched through psycopg and converted to Arrow column by column — keep them to
  aggregates. Types follow the server: ``sum(bigint)`` and ``avg(...)`` are ``numeric`` (Arrow
  decimal); cast to ``DOUBLE`` in SQL when you want floats on every engine.

Example::

    eng = connect("postgresql://analyst@db:5432/warehouse", schema="analytics")
    eng.sql("select variant, count(*) as n from exposures where day >= $since group by all", {"since": "2024-05-01"})
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from assay.engine.base import Engine, Source
from assay.errors import AssayError, ConfigError, InvalidInputError, StoreError

__all__ = ["PostgresEngine"]

_BATCH_ROWS = 100_000
_OID_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(), 700: pa.float32(),
    701: pa.float64(), 25: pa.string(), 1043: pa.string(), 1042: pa.string(), 19: pa.string(), 2950: pa.string(),
    114: pa.string(), 3802: pa.string(), 1082: pa.date32(), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"), 1083: pa.time64("us"), 1186: pa.duration("us"), 17: pa.binary(),
}  # fmt: skip
_STRINGIFY = {2950}  # uuid: str() each value
_JSON = {114, 3802}  # json, jsonb: psycopg parses them; hand back JSON text
_NUMERIC = 1700
_COLUMN = re.compile(r'column "?([^"\s]+)"? does not exist')
_TABLE = re.compile(r'relation "([^"]+)" does not exist')


def _pg_type(field: pa.Field) -> str:
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "SMALLINT"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "INTEGER"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "BIGINT"
    if pa.types.is_uint64(t):
        return "NUMERIC(20)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "REAL"
    if pa.types.is_float64(t):
        return "DOUBLE PRECISION"
    if pa.types.is_decimal(t):
        return f"NUMERIC({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t) or str(t) == "string_view":
        return "TEXT"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_time(t):
        return "TIME"
    raise InvalidInputError(
        f"column '{field.name}' has Arrow type {t}, which cannot be copied to PostgreSQL; cast it to a string first"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_type(column: Any) -> pa.DataType | None:
    """Arrow type for a result column; ``None`` lets pyarrow infer (numeric without declared precision)."""
    if column.type_code == _NUMERIC:
        precision, scale = column.precision, column.scale
        return pa.decimal128(precision, scale or 0) if precision and precision <= 38 else None
    return _OID_ARROW.get(column.type_code)


def _column_to_arrow(values: list[Any], oid: int, arrow_type: pa.DataType | None) -> pa.Array:
    fallback = pa.decimal128(38, 9) if oid == _NUMERIC else pa.string()
    if oid in _JSON:
        values = [None if v is None else json.dumps(v, default=str) for v in values]
    elif oid in _STRINGIFY:
        values = [None if v is None else str(v) for v in values]
    try:
        array = pa.array(values, type=arrow_type) if arrow_type is not None else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. numeric NaN, or a type we do not map
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return array.cast(fallback) if pa.types.is_null(array.type) else array


class PostgresEngine(Engine):
    """SQL on a PostgreSQL server (DuckDB-dialect SQL transpiled by sqlglot).

    Options: ``schema`` (put first on the search path), ``connect_timeout`` (seconds, default 10);
    other keyword arguments go to :func:`sqlalchemy.create_engine`.
    """

    dialect = "postgres"

    def __init__(
        self, url: str, *, schema: str | None = None, connect_timeout: int = 10, **engine_options: Any
    ) -> None:
        try:
            import psycopg
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError, SQLAlchemyError
            from sqlalchemy.pool import NullPool
        except ImportError as exc:
            raise ConfigError("the postgresql:// engine needs psycopg 3: pip install 'assay[postgres]'") from exc
        scheme, rest = url.split("://", 1)
        driver = scheme.split("+", 1)[1] if "+" in scheme else "psycopg"
        if driver != "psycopg":
            raise ConfigError(f"the PostgreSQL engine uses psycopg 3; write postgresql+psycopg:// (got {scheme}://)")
        try:
            sa_url = make_url(f"postgresql+psycopg://{rest}")
        except ArgumentError as exc:
            raise ConfigError(f"invalid PostgreSQL URL: {exc}") from exc
        super().__init__(sa_url.render_as_string(hide_password=True))
        self._psycopg = psycopg
        self._sa_engine = create_engine(
            sa_url, poolclass=NullPool, connect_args={"connect_timeout": connect_timeout}, **engine_options
        )
        try:
            self._sa_conn = self._sa_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            self._sa_engine.dispose()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(f"cannot reach PostgreSQL at {self.url}: {reason}") from exc
        self._pg = self._sa_conn.connection.driver_connection
        if schema:
            with self._pg.cursor() as cur:
                cur.execute(f"SET search_path TO {_ident(schema)}, public")
        self._temp: set[str] = set()

    @property
    def native(self) -> Any:
        """The ``psycopg.Connection`` (autocommit; TEMP tables registered here are visible on it)."""
        return self._pg

    # -- hooks ------------------------------------------------------------------------------
    def _execute(self, text: str, params: dict[str, object]) -> pa.Table:
        with self._pg.cursor() as cur:
            cur.execute(text, params)  # always a dict: '%' is escaped as '%%' by the transpiler
            if cur.description is None:
                return pa.table({})
            rows = cur.fetchall()
            description = list(cur.description)
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in description]
        arrays = [
            _column_to_arrow(list(values), col.type_code, _arrow_type(col))
            for values, col in zip(columns, description, strict=True)
        ]
        return pa.Table.from_arrays(arrays, names=_unique([col.name for col in description]))

    def _describe(self, text: str) -> tuple[list[tuple[str, str]], pa.Schema]:
        with self._pg.cursor() as cur:
            cur.execute(f"SELECT * FROM ({text}\n) AS _assay_d LIMIT 0", {})
            description = list(cur.description or [])
            oids = sorted({col.type_code for col in description})
            cur.execute(
                "SELECT oid::int, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%(oids)s)", {"oids": oids}
            )
            names = dict(cur.fetchall())
        cols = [(col.name, names.get(col.type_code, str(col.type_code))) for col in description]
        schema = pa.schema(
            [(col.name, _column_to_arrow([], col.type_code, _arrow_type(col)).type) for col in description]
        )
        return cols, schema

    def _register(self, name: str, source: Source) -> None:
        table = name.lower()
        if source.kind == "arrow":
            data = source.table()
            schema, batches = data.schema, iter(data.to_batches(max_chunksize=_BATCH_ROWS))
        else:
            if source.fmt == "json":
                raise InvalidInputError("the PostgreSQL engine registers Parquet and CSV files, not JSON")
            if source.folder:
                dataset = ds.dataset(source.folder, format=source.fmt, partitioning="hive")
            else:
                dataset = ds.dataset(source.files, format=source.fmt)
            schema, batches = dataset.schema, dataset.to_batches(batch_size=_BATCH_ROWS)
        lowered = [f.name.lower() for f in schema]
        if len(set(lowered)) != len(lowered):
            raise InvalidInputError(f"column names of '{name}' clash once lower-cased (PostgreSQL folds case)")
        columns = ", ".join(f"{_ident(col)} {_pg_type(f)}" for col, f in zip(lowered, schema, strict=True))
        with self._pg.transaction(), self._pg.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_ident(table)}")
            cur.execute(f"CREATE TEMP TABLE {_ident(table)} ({columns})")
            with cur.copy(f"COPY {_ident(table)} FROM STDIN (FORMAT csv)") as copy:
                for batch in batches:
                    buffer = io.BytesIO()
                    pacsv.write_csv(pa.Table.from_batches([batch]), buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getbuffer())
            cur.execute(f"ANALYZE {_ident(table)}")
        self._temp.add(table)

    def _tables(self) -> list[str]:
        with self._pg.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ANY(current_schemas(true)) "
                "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            return [r[0] for r in cur.fetchall()]

    def _translate(self, exc: Exception, sql: str | None, source: Source | None) -> AssayError:
        errors = self._psycopg.errors
        message = str(exc).strip()
        first = message.splitlines()[0] if message else type(exc).__name__
        if isinstance(exc, self._psycopg.OperationalError | self._psycopg.InterfaceError):
            return StoreError(f"PostgreSQL at {self.url} failed: {first}")
        if source is not None and source.kind == "files" and not isinstance(exc, self._psycopg.Error):
            return InvalidInputError(f"cannot read {source.folder or source.path!r} as {source.fmt}: {first}")
        if isinstance(exc, errors.UndefinedColumn) and (match := _COLUMN.search(message)):
            return self.missing_column(match.group(1).split(".")[-1], sql)
        if isinstance(exc, errors.UndefinedTable) and (match := _TABLE.search(message)):
            return self.missing_table(match.group(1))
        if isinstance(exc, self._psycopg.Error | pa.ArrowException):
            return InvalidInputError(f"PostgreSQL rejected the query: {message}")
        return StoreError(f"PostgreSQL engine failed: {type(exc).__name__}: {first}")

    def _close(self) -> None:
        try:
            self._sa_conn.close()
        finally:
            self._sa_engine.dispose()


def _unique(names: list[str]) -> list[str]:
    """PostgreSQL happily returns two columns named ``?column?``; Arrow tables need distinct names."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out
