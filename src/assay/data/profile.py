"""Column profiles: counts, nulls, distinct values, moments, quantiles, histograms and top values.

:func:`profile` pushes the work to the engine in two scans: one aggregate query computes every
simple statistic of every column (rows, nulls, approximate distinct count, min, max, mean, std and
approximate quantiles), and one ``UNION ALL`` query computes the equal-width histograms of numeric
columns and the most frequent values of categorical and boolean columns (and of numeric columns
with few distinct values). Only those aggregates come back to Python.

Approximation: on DuckDB and Spark ``distinct`` is a HyperLogLog estimate and the quantiles come from
sketches (t-digest / Greenwald-Khanna), typically within 1-2%; PostgreSQL computes both exactly.
``Profile.notes`` says which applies. Counts, nulls, min, max, mean, std, histograms and top-value
counts are exact everywhere.

A :class:`Profile` round-trips through JSON (``to_dict`` / ``from_dict``), so it can be stored with a
dataset version and used later as a drift reference, and profiles of partitions of one dataset can be
combined with :meth:`Profile.merge`.

Example::

    from assay.data import profile
    p = profile("orders.parquet")
    p.column("amount").quantiles["p50"], p.column("status").top_values[:3]
    print(p.summary())
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from assay.data.sources import Bound, bind, quote
from assay.engine import Engine
from assay.errors import InvalidInputError, NotFoundError
from assay.results import ResultMixin

__all__ = ["QUANTILES", "ColumnProfile", "Profile", "kind_of", "profile"]

QUANTILES: tuple[tuple[str, float], ...] = (
    ("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99),
)  # fmt: skip
KINDS = ("numeric", "categorical", "boolean", "datetime", "other")
_INT = re.compile(r"^(u?(tiny|small|big|huge)?int(eger)?|int[248]|u?hugeint|long|short|byte|(big|small)?serial)\b")
_FLOAT = re.compile(r"^(float[48]?|double( precision)?|real|decimal|numeric|number)\b")
_STRING = re.compile(r"^(varchar|text|string|char|character|bpchar|nvarchar|enum|uuid|name|citext)\b")
_DATETIME = re.compile(r"^(date|timestamp|datetime|timestamptz)")
_SMALL_DISTINCT_FACTOR = 1  # numeric columns get top values when distinct <= top * this


def kind_of(dtype: str) -> str:
    """The logical kind of an engine type name: numeric, categorical, boolean, datetime or other.

    >>> [kind_of(t) for t in ("BIGINT", "double precision", "VARCHAR", "boolean", "TIMESTAMP WITH TIME ZONE", "INT[]")]
    ['numeric', 'numeric', 'categorical', 'boolean', 'datetime', 'other']
    """
    t = dtype.strip().lower()
    if t.endswith("]") or t.startswith(("struct", "map", "array", "list", "union")):
        return "other"
    if _INT.match(t) or _FLOAT.match(t):
        return "numeric"
    if t in ("boolean", "bool"):
        return "boolean"
    if _DATETIME.match(t):
        return "datetime"
    if _STRING.match(t):
        return "categorical"
    return "other"


def is_integer_type(dtype: str) -> bool:
    """True for integer engine types (BIGINT, int4, ...)."""
    return bool(_INT.match(dtype.strip().lower()))


def _nan() -> float:
    return float("nan")


def _float(value: object) -> float:
    if value is None:
        return float("nan")
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ColumnProfile(ResultMixin):
    """The profile of one column.

    ``count`` is the number of rows (nulls included); ``distinct`` counts non-null distinct values
    (approximate on DuckDB/Spark; ``-1`` when not computable, for kind "other"). ``min``/``max`` are
    numbers for numeric columns, dates/datetimes for datetime columns, else ``None``. ``mean``/``std``
    (sample std) are over non-null values (boolean: the share of true); ``nan`` when undefined.
    ``quantiles`` maps "p01".."p99" to approximate values (numeric only, else empty).
    ``histogram_edges`` are ``bins + 1`` equal-width edges from min to max (numeric only; a constant
    column gets numpy's ``min - 0.5 .. max + 0.5``); ``histogram_counts`` counts non-null values per
    bin, the last bin closed. ``top_values`` are the most frequent non-null values with their counts
    (categorical/boolean; numeric when it has at most ``top`` distinct values); ``other_count`` is the
    number of non-null rows whose value is not in ``top_values``.
    """

    name: str
    kind: str
    dtype: str
    count: int
    nulls: int
    distinct: int
    min: Any
    max: Any
    mean: float
    std: float
    quantiles: dict[str, float]
    histogram_edges: tuple[float, ...]
    histogram_counts: tuple[int, ...]
    top_values: tuple[tuple[object, int], ...]
    other_count: int

    @property
    def non_null(self) -> int:
        """Rows with a value."""
        return self.count - self.nulls

    @property
    def null_fraction(self) -> float:
        """Share of rows that are null (``nan`` for an empty table)."""
        return self.nulls / self.count if self.count else float("nan")

    def summary(self) -> str:
        if self.count == 0:
            return f"Column '{self.name}' ({self.kind}) has no rows."
        text = f"Column '{self.name}' ({self.kind}, {self.dtype}): {self.count:,} rows, {self.nulls:,} null"
        text += f" ({self.null_fraction:.1%}), about {self.distinct:,} distinct values." if self.distinct >= 0 else "."
        if self.kind == "numeric" and self.non_null:
            text += (
                f" Ranges {self.min:.6g} to {self.max:.6g}, mean {self.mean:.6g}, median {self.quantiles['p50']:.6g}."
            )
        elif self.top_values:
            value, n = self.top_values[0]
            text += f" Most frequent: {value!r} ({n / max(self.non_null, 1):.1%} of values)."
        return text

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnProfile:
        """Rebuild a column profile from :meth:`to_dict` output (JSON ``null`` stats become ``nan``)."""
        names = [f for f in cls.__dataclass_fields__]
        missing = [n for n in names if n not in d]
        if missing:
            raise InvalidInputError(
                f"column profile is missing {', '.join(missing)}; pass ColumnProfile.to_dict() output"
            )
        kind, dtype = str(d["kind"]), str(d["dtype"])
        return cls(
            name=str(d["name"]),
            kind=kind,
            dtype=dtype,
            count=int(d["count"]),
            nulls=int(d["nulls"]),
            distinct=int(d["distinct"]),
            min=_restore(d["min"], kind, dtype),
            max=_restore(d["max"], kind, dtype),
            mean=_float(d["mean"]),
            std=_float(d["std"]),
            quantiles={str(k): _float(v) for k, v in (d["quantiles"] or {}).items()},
            histogram_edges=tuple(_float(v) for v in d["histogram_edges"] or ()),
            histogram_counts=tuple(int(v) for v in d["histogram_counts"] or ()),
            top_values=tuple((v, int(n)) for v, n in d["top_values"] or ()),
            other_count=int(d["other_count"]),
        )


def _restore(value: Any, kind: str, dtype: str) -> Any:
    if value is None:
        return None
    if kind == "numeric":
        return float(value)
    if kind == "datetime" and isinstance(value, str):
        if dtype.strip().lower() == "date":
            return _dt.date.fromisoformat(value)
        return _dt.datetime.fromisoformat(value)
    return value


@dataclass(frozen=True)
class Profile(ResultMixin):
    """Profiles of a table's columns; ``notes`` say what is approximate."""

    source: str
    rows: int
    columns: tuple[ColumnProfile, ...]
    notes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name`` (raises :class:`~assay.errors.NotFoundError` listing the columns)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise NotFoundError(f"no column '{name}' in this profile; columns: {', '.join(c.name for c in self.columns)}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def summary(self) -> str:
        head = f"{self.source}: {self.rows:,} rows, {len(self.columns)} columns."
        if not self.rows:
            return head + " The table is empty."
        nulls = sorted((c for c in self.columns if c.nulls), key=lambda c: -c.nulls)
        parts = [head]
        if nulls:
            shown = ", ".join(f"{c.name} {c.null_fraction:.1%}" for c in nulls[:5])
            parts.append(f"{len(nulls)} column(s) have missing values ({shown}{', ...' if len(nulls) > 5 else ''}).")
        else:
            parts.append("No missing values.")
        empty = [c.name for c in self.columns if c.count and c.nulls == c.count]
        if empty:
            parts.append(f"Entirely empty: {', '.join(empty)}.")
        constant = [c.name for c in self.columns if c.distinct == 1 and c.nulls < c.count]
        if constant:
            parts.append(f"Constant: {', '.join(constant)}.")
        return " ".join(parts)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        """Rebuild a profile from :meth:`to_dict` output (e.g. JSON stored with a dataset version)."""
        if not isinstance(d, Mapping) or "columns" not in d or "rows" not in d:
            raise InvalidInputError("Profile.from_dict needs a mapping with 'source', 'rows' and 'columns'")
        return cls(
            source=str(d.get("source", "")),
            rows=int(d["rows"]),
            columns=tuple(ColumnProfile.from_dict(c) for c in d["columns"]),
            notes=tuple(d.get("notes") or ()),
        )

    def merge(self, other: Profile) -> Profile:
        """Combine the profiles of two partitions (disjoint row sets) of one dataset.

        Exact: rows, count, nulls, min, max, mean and std (from non-null n, mean and std, Chan's
        parallel formula), and histograms whose edges match (else the merged histogram is dropped:
        empty edges and counts). Top values are summed; the result is exact only when each side
        listed every value (``other_count == 0``), otherwise counts of values missing from one side's
        list are lower bounds. ``distinct`` is exact when both sides listed every value, else the larger
        of the two (a lower bound). Quantiles are approximate: read off the mixture of both sides'
        quantile curves. ``notes`` says which of these happened.
        """
        if not isinstance(other, Profile):
            raise InvalidInputError(f"merge needs another Profile, got {type(other).__name__}")
        if self.names != other.names:
            raise InvalidInputError(
                f"cannot merge profiles with different columns: {self.names} vs {other.names}; "
                "profile both partitions with the same columns="
            )
        from assay.data._profile_merge import _merge_column

        notes: set[str] = set(self.notes) | set(other.notes)
        merged = tuple(_merge_column(a, b, notes) for a, b in zip(self.columns, other.columns, strict=True))
        source = self.source if self.source == other.source else f"{self.source} + {other.source}"
        return Profile(source=source, rows=self.rows + other.rows, columns=merged, notes=tuple(sorted(notes)))


def profile(
    source: object,
    *,
    engine: Engine | None = None,
    columns: Sequence[str] | None = None,
    bins: int = 20,
    top: int = 20,
    edges: Mapping[str, Sequence[float]] | None = None,
) -> Profile:
    """Profile every column (or ``columns``) of ``source`` in two scans on the engine.

    ``source``: a Parquet/CSV/JSON path, glob or folder, a pandas DataFrame, an Arrow table, or with
    ``engine=`` a table name or SELECT. ``bins``: histogram bins of numeric columns; ``top``: how many
    most frequent values to keep. ``edges``: per-column histogram edges to use instead of equal-width
    ones between min and max (e.g. a reference profile's, so histograms of partitions or of later data
    line up); values outside them are counted in the first / last bin.

    >>> import pandas as pd
    >>> p = profile(pd.DataFrame({"x": [1.0, 2.0, None], "s": ["a", "b", "a"]}), bins=2)
    >>> p.column("x").nulls, p.column("x").histogram_counts, p.column("s").top_values
    (1, (1, 1), (('a', 2), ('b', 1)))
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidInputError(f"bins must be a positive integer, got {bins!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise InvalidInputError(f"top must be a non-negative integer, got {top!r}")
    with bind(source, engine, name="profile") as src:
        names = _select_columns(src, columns)
        edges = _check_edges(edges, names, src)
        kinds = {c: kind_of(src.columns[c]) for c in names}
        rows, stats = _simple_stats(src, names, kinds)
        plans = _plan_distributions(names, kinds, stats, bins, top, edges or {})
        dists = _distributions(src, names, kinds, plans, top) if plans else {}
        dialect = src.engine.dialect
        label = src.label
    cols = tuple(_build(c, src.columns[c], kinds[c], rows, stats[c], plans.get(c), dists.get(c)) for c in names)
    notes = (
        ("distinct counts and quantiles are exact (PostgreSQL)",)
        if dialect == "postgres"
        else ("distinct counts (HyperLogLog) and quantiles (sketches) are approximate",)
    )
    return Profile(source=label, rows=rows, columns=cols, notes=notes)


def _select_columns(src: Bound, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return list(src.columns)
    if isinstance(columns, str):
        columns = [columns]
    missing = [c for c in columns if c not in src.columns]
    if missing:
        raise InvalidInputError(
            f"column(s) {', '.join(map(repr, missing))} not in {src.label}; available: {', '.join(src.columns)}"
        )
    return list(dict.fromkeys(columns))


def _check_edges(
    edges: Mapping[str, Sequence[float]] | None, names: list[str], src: Bound
) -> dict[str, tuple[float, ...]]:
    out: dict[str, tuple[float, ...]] = {}
    for col, values in (edges or {}).items():
        if col not in names or kind_of(src.columns[col]) != "numeric":
            raise InvalidInputError(f"edges given for '{col}', which is not a profiled numeric column")
        ev = tuple(float(v) for v in values)
        if len(ev) < 2 or any(not math.isfinite(v) for v in ev) or any(x >= y for x, y in itertools.pairwise(ev)):
            raise InvalidInputError(f"edges for '{col}' must be at least 2 finite, strictly increasing numbers")
        out[col] = ev
    return out


def _simple_stats(src: Bound, names: list[str], kinds: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    """Query 1: every simple statistic of every column in one aggregate scan."""
    items = ["count(*) AS n_rows"]
    probs = ", ".join(repr(q) for _, q in QUANTILES)
    for i, name in enumerate(names):
        q, kind = quote(name), kinds[name]
        items.append(f"count({q}) AS c{i}_nn")
        if kind != "other":
            items.append(f"approx_count_distinct({q}) AS c{i}_d")
        if kind == "numeric":
            x = f"CAST({q} AS DOUBLE)"
            items += [f"min({q}) AS c{i}_min", f"max({q}) AS c{i}_max", f"CAST(avg({x}) AS DOUBLE) AS c{i}_mean"]
            items += [f"CAST(stddev_samp({x}) AS DOUBLE) AS c{i}_std", f"approx_quantile({x}, [{probs}]) AS c{i}_q"]
        elif kind == "boolean":
            x = f"CAST(CAST({q} AS INTEGER) AS DOUBLE)"
            items += [f"CAST(avg({x}) AS DOUBLE) AS c{i}_mean", f"CAST(stddev_samp({x}) AS DOUBLE) AS c{i}_std"]
        elif kind == "datetime":
            items += [f"min({q}) AS c{i}_min", f"max({q}) AS c{i}_max"]
    row = src.engine.sql("SELECT " + ",\n  ".join(items) + f"\nFROM {src.relation}").to_pylist()[0]
    stats: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        prefix = f"c{i}_"
        stats[name] = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
    return int(row["n_rows"] or 0), stats


def _plan_distributions(
    names: list[str],
    kinds: dict[str, str],
    stats: dict[str, dict[str, Any]],
    bins: int,
    top: int,
    edges: dict[str, tuple[float, ...]],
) -> dict[str, dict[str, Any]]:
    """Which columns get a histogram (with which edges) and which get top values."""
    plans: dict[str, dict[str, Any]] = {}
    for name in names:
        st, kind = stats[name], kinds[name]
        plan: dict[str, Any] = {}
        if kind == "numeric" and st.get("nn"):
            lo, hi = _float(st.get("min")), _float(st.get("max"))
            if name in edges:
                plan["edges"], plan["custom"] = edges[name], True
            elif math.isfinite(lo) and math.isfinite(hi):
                plan["edges"] = tuple(float(e) for e in np.histogram_bin_edges([lo, hi], bins=bins))
            distinct = int(st.get("d") or 0)
            if top and distinct <= top * _SMALL_DISTINCT_FACTOR:
                plan["top"] = True
        elif kind in ("categorical", "boolean") and st.get("nn") and top:
            plan["top"] = True
        if plan:
            plans[name] = plan
    return plans


def _literal(value: float) -> str:
    return f"CAST('{value!r}' AS DOUBLE)"


def _distributions(
    src: Bound, names: list[str], kinds: dict[str, str], plans: dict[str, dict[str, Any]], top: int
) -> dict[str, dict[str, Any]]:
    """Query 2: histograms and top values of all columns in one UNION ALL."""
    branches = []
    for i, name in enumerate(names):
        plan = plans.get(name)
        if not plan:
            continue
        q = quote(name)
        if "edges" in plan:
            ev = plan["edges"]
            k = len(ev) - 1
            lo, hi = ev[0], ev[-1]
            if plan.get("custom"):  # given edges (maybe uneven): compare; outside values go to the end bins
                cases = " ".join(f"WHEN {q} < {_literal(e)} THEN {j}" for j, e in enumerate(ev[1:-1]))
                bucket = f"CASE {cases} ELSE {k - 1} END" if cases else "0"
            else:
                x = f"(CAST({q} AS DOUBLE) - {_literal(lo)}) * {k} / {_literal(hi - lo)}"
                bucket = f"GREATEST(LEAST(CAST(FLOOR({x}) AS BIGINT), {k - 1}), 0)"
            branches.append(
                f"SELECT {i} AS _c, CAST(NULL AS VARCHAR) AS _v, _b, count(*) AS _n FROM "
                f"(SELECT {bucket} AS _b FROM {src.relation} WHERE {q} IS NOT NULL) AS _h{i} GROUP BY _b"
            )
        if plan.get("top"):
            branches.append(
                f"SELECT _c, _v, _b, _n FROM (SELECT {i} AS _c, CAST({q} AS VARCHAR) AS _v, CAST(NULL AS BIGINT) AS _b,"
                f" count(*) AS _n FROM {src.relation} WHERE {q} IS NOT NULL GROUP BY {q}"
                f" ORDER BY _n DESC, _v LIMIT {top}) AS _t{i}"
            )
    rows = src.engine.sql("\nUNION ALL\n".join(branches)).to_pylist()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = names[int(r["_c"])]
        entry = out.setdefault(name, {"hist": {}, "top": []})
        if r["_v"] is None and r["_b"] is not None:
            entry["hist"][int(r["_b"])] = int(r["_n"])
        elif r["_v"] is not None:
            entry["top"].append((_parse_value(r["_v"], kinds[name], src.columns[name]), int(r["_n"])))
    return out


def _parse_value(text: str, kind: str, dtype: str) -> object:
    if kind == "boolean":
        return text.strip().lower() in ("true", "t", "1")
    if kind == "numeric":
        try:
            return int(text) if is_integer_type(dtype) else float(text)
        except ValueError:
            return text
    return text


def _build(
    name: str,
    dtype: str,
    kind: str,
    rows: int,
    st: dict[str, Any],
    plan: dict[str, Any] | None,
    dist: dict[str, Any] | None,
) -> ColumnProfile:
    nn = int(st.get("nn") or 0)
    quantiles: dict[str, float] = {}
    lo = hi = None
    if kind == "numeric":
        qs = st.get("q") or [None] * len(QUANTILES)
        quantiles = {k: _float(v) for (k, _), v in zip(QUANTILES, qs, strict=True)}
        lo, hi = (None if v is None else _number(v) for v in (st.get("min"), st.get("max")))
    elif kind == "datetime":
        lo, hi = st.get("min"), st.get("max")
    edges: tuple[float, ...] = tuple(plan["edges"]) if plan and "edges" in plan else ()
    counts: tuple[int, ...] = ()
    if edges:
        hist = (dist or {}).get("hist", {})
        counts = tuple(hist.get(j, 0) for j in range(len(edges) - 1))
    top_values = tuple(sorted((dist or {}).get("top", []), key=lambda vc: (-vc[1], str(vc[0]))))
    distinct = int(st["d"]) if st.get("d") is not None else -1
    if top_values and sum(c for _, c in top_values) == nn:
        distinct = len(top_values)  # every value listed: the exact count
    return ColumnProfile(
        name=name, kind=kind, dtype=dtype, count=rows, nulls=rows - nn, distinct=distinct, min=lo, max=hi,
        mean=_float(st.get("mean")), std=_float(st.get("std")), quantiles=quantiles, histogram_edges=edges,
        histogram_counts=counts, top_values=top_values, other_count=nn - sum(c for _, c in top_values),
    )  # fmt: skip


def _number(value: object) -> float | int:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float):
        return value
    return float(value)  # type: ignore[arg-type]
