"""Counting the repeated values of an integer column in memory, for ``unique`` checks on DuckDB.

``GROUP BY id HAVING count(*) > 1`` over 10M distinct integers builds a 10M-entry hash table: 1.0–1.3 s
on two cores. Fetching the non-null values as one NumPy array (~0.12 s) and counting them there is
several times cheaper: one counter per possible value when the values are dense (``bincount``,
~0.08 s), else a sort (~0.2 s). Both give exactly what the GROUP BY gives: the number of
rows whose value occurs more than once, and the smallest such values.

Used only when the engine runs in this process (DuckDB) and the column holds at most
:data:`MAX_VALUES` values in the signed 64-bit range; otherwise the caller keeps the GROUP BY.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.engine import Engine
from assay.errors import AssayError

__all__ = ["MAX_VALUES", "Duplicates", "integer_duplicates"]

MAX_VALUES = 50_000_000  # 400 MB as int64; a larger column goes to the engine's GROUP BY, which can spill
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Duplicates:
    """``failing``: rows whose value occurs more than once; ``values``: the smallest such values, ascending;
    ``counts``: how many rows hold each of them."""

    failing: int
    values: list[int]
    counts: list[int]


def integer_duplicates(
    engine: Engine, relation: str, column: str, low: int | None, high: int | None, count: int, limit: int
) -> Duplicates | None:
    """Repeated values of the integer expression ``column`` of ``relation`` on (in-process) ``engine``.

    ``low``/``high``/``count`` are its min, max and non-null count (from the aggregate scan). Returns
    None when the column is too large or out of the int64 range, or the query fails (the caller then
    runs the GROUP BY).
    """
    if count == 0 or low is None or high is None:
        return Duplicates(0, [], [])
    if count > MAX_VALUES or low < _INT64[0] or high > _INT64[1]:
        return None
    try:  # through Arrow: half the time of DuckDB's fetchnumpy here (0.12 vs 0.21 s for 10M values)
        sql = f"SELECT CAST({column} AS BIGINT) AS _v FROM {relation} WHERE {column} IS NOT NULL"
        values = np.asarray(engine.sql(sql).column(0).to_numpy(), dtype=np.int64)
    except AssayError:  # fall back to the GROUP BY, which reports the error
        return None
    span = high - low + 1
    if span <= 2 * len(values) + 1024:  # dense: one counter per possible value
        counts = np.bincount(values - low, minlength=span)
        repeated = counts > 1
        failing = int(counts[repeated].sum())
        first = np.flatnonzero(repeated)[:limit]
        return Duplicates(failing, [int(v) for v in first + low], [int(c) for c in counts[first]])
    values = np.sort(values)  # a copy: a single-chunk Arrow column comes back read-only
    same = values[1:] == values[:-1]
    if not same.any():
        return Duplicates(0, [], [])
    repeats = values[1:][same]  # sorted; a value seen k times appears k - 1 times here
    starts = np.concatenate(([True], repeats[1:] != repeats[:-1]))
    distinct = repeats[starts]
    first = distinct[:limit]
    counts = np.searchsorted(values, first, side="right") - np.searchsorted(values, first, side="left")
    return Duplicates(int(same.sum()) + len(distinct), [int(v) for v in first], [int(c) for c in counts])
