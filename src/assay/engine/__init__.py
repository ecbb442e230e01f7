"""Run SQL where the data lives: DuckDB in-process by default, Spark and PostgreSQL by URL.

SQL is written once, in DuckDB's dialect, with ``$name`` parameters; other engines receive it
transpiled by sqlglot (plus assay's rewrites, see ``_sql.py``). Only results (aggregates) come
back to Python, as Arrow tables.

Example::

    from assay.engine import connect
    with connect() as eng:                                         # or "spark://local[2]", "postgresql://..."
        eng.register("orders", "orders.parquet")
        eng.sql("select status, sum(amount)::DOUBLE as total from orders group by all").to_pylist()
        eng.columns("orders")                                      # {'id': 'BIGINT', 'amount': 'DOUBLE', ...}

User-typed SQL goes through :func:`assay.engine.sqlcheck.parse_select` first.

Writing SQL that means the same on every engine:

* Alias every output column (``count(*) AS n``): unaliased names differ (``count_star()``, ``count(1)``, ``count``).
* Cast aggregates to the type you want: ``sum(int)`` is DECIMAL(38,0) on DuckDB, BIGINT on Spark, NUMERIC on
  PostgreSQL (``avg`` too there). ``CAST(sum(x) AS DOUBLE)`` gives a float everywhere.
* Hash buckets: ``CAST('0x' || substr(md5(salt || ':' || CAST(id AS VARCHAR)), 1, 8) AS BIGINT) % n`` (md5 needs
  a string on every engine; keep ≤ 15 hex digits). Never ``hash()``: a different function on each engine.
* Divide by ``NULLIF(d, 0)``: ``1/0`` is inf on DuckDB, an error on Spark (ANSI) and PostgreSQL.
* ``epoch(ts)`` not ``epoch_ms(ts)`` (sqlglot reads ``epoch_ms`` as ms → timestamp); ``epoch(ts) * 1000`` for ms.
* Avoid DuckDB-only syntax: ``* EXCLUDE``/``REPLACE``, ``try_cast`` (a plain, failing CAST on PostgreSQL),
  ``QUALIFY`` with ``SELECT *`` (its helper column ``_w`` leaks into the result; list the columns),
  ``list()`` (Spark drops NULLs), ``sum(bool_column)`` (``sum(x > 0)`` is rewritten; a column is not).
* Results: timestamps come back tz-aware (UTC) from Spark, naive from DuckDB and PostgreSQL.
"""

from assay.engine import sqlcheck
from assay.engine.base import Engine, connect
from assay.engine.sqlcheck import parse_select, quote_identifier, referenced_columns, referenced_tables

__all__ = [
    "Engine",
    "connect",
    "parse_select",
    "quote_identifier",
    "referenced_columns",
    "referenced_tables",
    "sqlcheck",
]
