"""The engine side of :mod:`assay.monitoring.drift`: working state per column and the SQL that reduces each
side to per-column statistics, histograms (refined inside heavy bins) and category counts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.data.profile import kind_of
from assay.data.sources import Bound
from assay.engine import quote_identifier
from assay.monitoring import _drift_stats as st

SUB_BINS = 4096  # at most, per refined range
REFINE_LEVELS = 6
MAX_REFINED = 200
HEAVY_SHARE = 0.002
MAX_CATEGORIES = 10_000
OTHER = "(other)"
_FINITE = "1.7976931348623157e308"


# -- working state --------------------------------------------------------------------------------------
@dataclass
class _Side:
    n: int = 0  # non-null, finite values
    std: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    bins: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))  # rows: key (level << 40 | key), n, lo, hi
    cats: dict[Any, float] = field(default_factory=dict)
    truncated: bool = False


@dataclass
class _Col:
    name: str
    kind: str
    ref: _Side = field(default_factory=_Side)
    cur: _Side = field(default_factory=_Side)
    status: str = "ok"
    detail: str = ""
    exact: bool = False
    lo: float = 0.0  # the grid: K equal-width bins over [lo, hi], refined inside heavy bins
    hi: float = 0.0
    k: int = 1
    heavy: list[tuple[float, float, int]] = field(default_factory=list)
    profile: Any = None


def _kind(type_name: str) -> str:
    kind = kind_of(type_name)
    return "categorical" if kind == "boolean" else kind


def _lit(v: float) -> str:
    return f"{float(v):.17e}"


def _x(col: str, dialect: str) -> str:
    """The column as DOUBLE, NaN and ±inf as NULL (DuckDB 2.0 gets ``abs(NaN) <= max`` wrong inside CASE: use
    isfinite there; PostgreSQL and Spark order NaN above every number, so the comparison excludes it)."""
    x = f"CAST({quote_identifier(col)} AS DOUBLE)"
    finite = f"isfinite({x})" if dialect == "duckdb" else f"abs({x}) <= {_FINITE}"
    return f"CASE WHEN {finite} THEN {x} END"


def _key(c: _Col) -> str:
    res = c.k
    if c.hi <= c.lo:
        return "CAST(0 AS BIGINT)"
    idx = f"floor((x - {_lit(c.lo)}) * {_lit(res / (c.hi - c.lo))})"
    if c.profile is not None:  # current against a profile's edges: under- and overflow bins
        return (f"CAST(CASE WHEN x < {_lit(c.lo)} THEN -1 WHEN x > {_lit(c.hi)} THEN {res} "
                f"ELSE LEAST({idx}, {res - 1}) END AS BIGINT)")  # fmt: skip
    return f"CAST(LEAST({idx}, {res - 1}) AS BIGINT)"


# -- SQL ------------------------------------------------------------------------------------------------
def _stats(src: Bound, cols: list[_Col], side: str) -> int:
    """One scan: row count, and per column its non-null count (numeric: min, max, std too). Returns the rows."""
    sel = ["count(*) AS n_rows"]
    for j, c in enumerate(cols):
        if c.kind == "numeric":
            sel += [f"count(x{j}) AS v{j}", f"min(x{j}) AS lo{j}", f"max(x{j}) AS hi{j}", f"stddev_pop(x{j}) AS sd{j}"]
        else:
            sel.append(f"count(x{j}) AS v{j}")
    inner = ", ".join(
        (_x(c.name, src.engine.dialect) if c.kind == "numeric" else quote_identifier(c.name)) + f" AS x{j}"
        for j, c in enumerate(cols)
    )
    row = src.engine.sql(f"SELECT {', '.join(sel)} FROM (SELECT {inner or '1 AS x'} FROM {src.relation} AS r) AS s")
    row = row.to_pylist()[0]
    for j, c in enumerate(cols):
        s = getattr(c, side)
        s.n = int(row[f"v{j}"] or 0)
        if c.kind == "numeric" and s.n:
            s.lo, s.hi = float(row[f"lo{j}"]), float(row[f"hi{j}"])
            s.std = float(row[f"sd{j}"] or 0.0)
    return int(row["n_rows"])


def _histograms(src: Bound, cols: list[tuple[int, _Col]], side: str, level: int = 1) -> None:
    """Per numeric column, (key, count, min, max) per bin — per distinct value on the exact path; at ``level`` > 1
    only the values inside the column's heavy bins, each split into SUB_BINS over its observed range."""
    parts = []
    for j, c in cols:
        base = f"SELECT {_x(c.name, src.engine.dialect)} AS x FROM {src.relation} AS r"
        if c.exact:
            parts.append(f"SELECT {j} AS j, CAST(0 AS BIGINT) AS k, count(*) AS n, x AS lo, x AS hi "
                         f"FROM ({base}) AS s WHERE x IS NOT NULL GROUP BY x")  # fmt: skip
            continue
        if level == 1:
            key, cond = _key(c), "x IS NOT NULL"
        else:
            offsets = np.cumsum([0] + [m for _, _, m in c.heavy])
            whens = " ".join(
                f"WHEN x >= {_lit(a)} AND x <= {_lit(b)} THEN {off} + "
                f"LEAST(floor((x - {_lit(a)}) * {_lit(m / (b - a))}), {m - 1})"
                for (a, b, m), off in zip(c.heavy, offsets, strict=False)
            )
            key = f"CAST(CASE {whens} END AS BIGINT)"
            cond = " OR ".join(f"(x >= {_lit(a)} AND x <= {_lit(b)})" for a, b, _ in c.heavy)
        parts.append(f"SELECT {j} AS j, k, count(*) AS n, min(x) AS lo, max(x) AS hi FROM (SELECT {key} AS k, x "
                     f"FROM ({base}) AS s WHERE {cond}) AS b GROUP BY k")  # fmt: skip
    if not parts:
        return
    table = src.engine.sql("\nUNION ALL\n".join(parts))
    data = np.column_stack([table.column(name).to_numpy().astype(float) for name in ("j", "k", "n", "lo", "hi")])
    data[:, 1] += level * 2.0**40
    order = np.argsort(data[:, 0], kind="stable")
    data = data[order]
    for j, c in cols:
        start, end = np.searchsorted(data[:, 0], j, side="left"), np.searchsorted(data[:, 0], j, side="right")
        s = getattr(c, side)
        s.bins = np.concatenate([s.bins, data[start:end, 1:]])


def _categories(src: Bound, cols: list[tuple[int, _Col]], side: str) -> None:
    parts = [
        f"SELECT * FROM (SELECT {j} AS j, v, count(*) AS n FROM (SELECT CAST({quote_identifier(c.name)} AS VARCHAR) "
        f"AS v FROM {src.relation} AS r) AS s WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v "
        f"LIMIT {MAX_CATEGORIES}) AS t{j}"
        for j, c in cols
    ]
    if not parts:
        return
    table = src.engine.sql("\nUNION ALL\n".join(parts)).to_pydict()
    by_j = dict(cols)
    for j, v, n in zip(table["j"], table["v"], table["n"], strict=True):
        getattr(by_j[j], side).cats[v] = float(n)
    for _, c in cols:
        s = getattr(c, side)
        rest = s.n - sum(s.cats.values())
        if rest > 0:
            s.cats[OTHER], s.truncated = rest, True


def _heavy(c: _Col) -> list[tuple[float, float, int]]:
    runs, drop = st.heavy_runs(c.ref.bins, c.ref.n, c.cur.bins, c.cur.n, HEAVY_SHARE, MAX_REFINED, SUB_BINS)
    for s in (c.ref, c.cur):
        s.bins = s.bins[~np.isin(s.bins[:, 0], drop)]
    return runs


def _refine(srcs: dict[str, Bound], cols: list[tuple[int, _Col]]) -> None:
    for level in range(2, REFINE_LEVELS + 2):
        todo = []
        for j, c in cols:
            c.heavy = _heavy(c) if not c.exact and c.profile is None else []
            if c.heavy:
                todo.append((j, c))
        if not todo:
            return
        for side in ("ref", "cur"):
            _histograms(srcs[side], todo, side, level)


# -- the comparison -------------------------------------------------------------------------------------
