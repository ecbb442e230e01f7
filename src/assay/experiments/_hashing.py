"""The one hash behind assignment, written once in Python and once per SQL dialect.

``bucket(salt, unit) = int(md5(salt || ':' || unit)[:15], 16) mod 10_000``

* md5 because every engine assay targets has it (DuckDB, Spark, PostgreSQL, BigQuery, Snowflake);
  the input is the UTF-8 text of ``salt + ':' + unit_id``.
* The first 15 hex digits (the top 60 bits of the digest, big-endian) because 60 bits fit a *signed*
  64-bit integer (BIGINT / INT64) in every engine, so no dialect needs unsigned or decimal arithmetic.
* 10,000 buckets give 0.01% granularity for weights, traffic, holdouts and layer ranges. The modulo
  bias of 2**60 mod 10,000 is below 1e-14 per bucket: negligible.

Only the hex → integer step differs between dialects, so it is written here by hand for each one rather
than left to a transpiler (see :func:`bucket_sql`).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = ["BUCKETS", "DIALECTS", "bucket_sql", "hash_buckets", "normalise_dialect", "sql_string", "unit_texts"]

BUCKETS = 10_000
"""Number of buckets; a share ``p`` of units is ``round(p * BUCKETS)`` buckets (0.01% granularity)."""

DIALECTS = ("duckdb", "postgres", "spark", "bigquery", "snowflake")
_ALIASES = {"postgresql": "postgres", "databricks": "spark", "sparksql": "spark"}


def normalise_dialect(dialect: str, owner: str) -> str:
    """The canonical dialect name, or :class:`InvalidInputError` naming the supported ones."""
    name = _ALIASES.get(str(dialect).lower(), str(dialect).lower())
    if name not in DIALECTS:
        raise InvalidInputError(f"The 'dialect' parameter of {owner} must be one of {list(DIALECTS)}. Got {dialect!r}.")
    return name


# --- Python side ------------------------------------------------------------------------------------------


def hash_buckets(salt: str, texts: list[str]) -> np.ndarray:
    """Bucket (0 .. 9,999) of each text under ``salt``, as an int64 array; ~0.4 µs per id.

    >>> hash_buckets("checkout-v2", ["1", "2"]).tolist()
    [9982, 3601]
    """
    if not texts:
        return np.empty(0, dtype=np.int64)
    md5 = hashlib.md5
    prefix = salt + ":"
    digests = b"".join([md5((prefix + t).encode("utf-8")).digest() for t in texts])
    top64 = np.frombuffer(digests, dtype=">u8")[::2]  # first 8 bytes of each 16-byte digest, big-endian
    return ((top64 >> np.uint64(4)) % np.uint64(BUCKETS)).astype(np.int64)  # >> 4: keep 15 hex digits


def unit_texts(unit_ids: Any, owner: str) -> tuple[list[str], np.ndarray]:
    """Unit ids as the text SQL's ``CAST(id AS VARCHAR)`` gives, plus a mask of the non-missing ones.

    Strings are used as they are, integers in base 10, UUIDs in their canonical lowercase form. Missing
    values (None, NaN, ``pd.NA``) are left out (mask False) and end up unassigned, as NULL does in SQL.
    Floats and booleans are refused: their text differs between Python and SQL engines (``1.0`` vs ``1``,
    ``True`` vs ``true``).
    """
    if isinstance(unit_ids, str | bytes) or not isinstance(unit_ids, Iterable):
        raise InvalidInputError(
            f"The 'unit_ids' parameter of {owner} must be a list, array or Series of ids. "
            f"Got {type(unit_ids).__name__}."
        )
    if hasattr(unit_ids, "tolist"):  # numpy, pandas
        values = unit_ids.tolist()
    elif hasattr(unit_ids, "to_pylist"):  # pyarrow
        values = unit_ids.to_pylist()
    else:
        values = list(unit_ids)
    dtype = getattr(unit_ids, "dtype", None)
    kind = getattr(dtype, "kind", "O")
    if kind in "iu" and isinstance(dtype, np.dtype):  # plain integer array: no missing values possible
        return [str(v) for v in values], np.ones(len(values), dtype=bool)
    if kind in "fcbmM" and len(values):
        raise _bad_id(owner, values[0])
    texts: list[str] = []
    present = np.ones(len(values), dtype=bool)
    for i, v in enumerate(values):
        if type(v) is str:
            texts.append(v)
        elif type(v) is int:
            texts.append(str(v))
        elif _is_missing(v):
            present[i] = False
        elif isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_):
            texts.append(str(int(v)))
        elif isinstance(v, str | uuid.UUID):
            texts.append(str(v))
        else:
            raise _bad_id(owner, v)
    return texts, present


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return type(v).__name__ in ("NAType", "NaTType")


def _bad_id(owner: str, value: Any) -> InvalidInputError:
    return InvalidInputError(
        f"The 'unit_ids' parameter of {owner} must hold strings or integers (or UUIDs), so that Python and SQL "
        f"hash the same text. Got {type(value).__name__} {value!r}; cast the ids to int or str first."
    )


# --- SQL side ---------------------------------------------------------------------------------------------


def sql_string(value: str, dialect: str) -> str:
    """``value`` as a string literal of ``dialect`` (quotes and backslashes escaped as that dialect needs)."""
    from sqlglot import exp

    return exp.Literal.string(value).sql(dialect=dialect)


def bucket_sql(salt: str, unit_sql: str, dialect: str) -> str:
    """SQL for :func:`hash_buckets` of the unit expression ``unit_sql`` (cast to text) in ``dialect``.

    A NULL unit gives NULL. Per dialect (``h`` = the md5 hex digest):

    * duckdb:    ``CAST('0x' || substr(h, 1, 15) AS BIGINT)``
    * postgres:  ``CAST(CAST('x' || lpad(substr(h, 1, 15), 16, '0') AS BIT(64)) AS BIGINT)``
    * spark:     ``CAST(conv(substr(h, 1, 15), 16, 10) AS BIGINT)``
    * bigquery:  ``CAST(CONCAT('0x', SUBSTR(TO_HEX(MD5(..)), 1, 15)) AS INT64)``
    * snowflake: ``FLOOR(MD5_NUMBER_UPPER64(..) / 16)`` (the top 64 bits, big-endian, shifted right 4 bits)

    then ``MOD(.., 10000)``. DuckDB and PostgreSQL are checked against Python in tests, Spark when pyspark is
    installed; BigQuery and Snowflake are only checked to parse (no live warehouse in CI).
    """
    d = normalise_dialect(dialect, "bucket_sql")
    prefix = sql_string(salt + ":", d)
    if d == "duckdb":
        hexed = f"md5({prefix} || CAST({unit_sql} AS VARCHAR))"
        number = f"CAST('0x' || substr({hexed}, 1, 15) AS BIGINT)"
    elif d == "postgres":
        hexed = f"md5({prefix} || CAST({unit_sql} AS TEXT))"
        number = f"CAST(CAST('x' || lpad(substr({hexed}, 1, 15), 16, '0') AS BIT(64)) AS BIGINT)"
    elif d == "spark":
        hexed = f"md5(concat({prefix}, CAST({unit_sql} AS STRING)))"
        number = f"CAST(conv(substr({hexed}, 1, 15), 16, 10) AS BIGINT)"
    elif d == "bigquery":
        hexed = f"TO_HEX(MD5(CONCAT({prefix}, CAST({unit_sql} AS STRING))))"
        number = f"CAST(CONCAT('0x', SUBSTR({hexed}, 1, 15)) AS INT64)"
    else:  # snowflake: MD5_NUMBER_UPPER64 is the first 16 hex digits as a number; /16 drops the 16th
        number = f"FLOOR(MD5_NUMBER_UPPER64({prefix} || CAST({unit_sql} AS VARCHAR)) / 16)"
    return f"MOD({number}, {BUCKETS})"
