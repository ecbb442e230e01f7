"""Compile an experiment and its metrics into one SQL query that returns only sufficient statistics.

The query is written in DuckDB's dialect and run through :meth:`assay.engine.Engine.sql`, so it runs
unchanged (transpiled) on Spark and PostgreSQL. Its shape, CTE by CTE:

1. ``exposed_units``: one row per unit from the exposures source — first exposure time, its variant, and
   ``multiple = 1`` (variant NULL) when the unit saw more than one variant; slice columns (``dimensions``)
   take the unit's smallest value, ``'(missing)'`` when NULL.
2. ``<source>_per_unit``: **one scan per source** for all metrics that share it (and its unit column). An
   inner query joins the source's rows to their unit's first exposure, keeps the rows inside some metric's
   window (``[-pre_period, 0)`` too, for CUPED covariates) and flags each window once (``in_0d_14d``:
   ``ts >= first_exposure AND ts < first_exposure + INTERVAL 14 DAY``); the outer query aggregates every
   metric per unit with conditional aggregates over those flags (identical aggregates computed once).
3. ``unit_values``: every exposed unit LEFT JOINed to each per-unit CTE; a unit with no rows gets 0
   (covariates too).
4. The final ``GROUP BY`` (``GROUPING SETS`` when there are dimensions: the whole experiment plus one set
   per dimension) returns per variant ``n`` and, per metric, the fields of its sufficient-statistic class:
   ``sum, sum_squares`` (mean, proportion), ``num_sum, num_sum_squares, den_sum, den_sum_squares,
   num_den_sum`` (ratio), plus ``cov_sum, cov_sum_squares, cross_sum`` (CUPED mean) or ``cov_sum,
   cov_sum_squares, num_cov_sum, den_cov_sum`` (CUPED ratio). Result columns are ``<metric>__<field>``.

Units that saw several variants, or a label the experiment does not list, still flow through the query
(their own result rows), so the data-quality counts cost no extra pass.

Ratio convention: every exposed unit is in ``n`` — a unit with denominator 0 (no orders) adds 0 to both
sums but still counts, because the delta method is over units, not over denominator events; the ratio is
``Σ numerator / Σ denominator`` over units. For a CUPED ratio the covariate is the unit's pre-period
numerator.

Example::

    from assay.engine import connect
    compiled = compile_experiment(experiment, catalog=catalog, engine=connect())
    print(compiled.sql)                            # the query `assay exp analyze --show-sql` shows
    cells = compiled.cells(engine.sql(compiled.sql))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.engine import Engine
from assay.engine.sqlcheck import referenced_tables
from assay.errors import InvalidInputError
from assay.experiments._sources import SourceColumns, from_clause, is_number, is_text, quote, short
from assay.experiments.definition import Experiment, parse_time
from assay.experiments.metrics import Metric, MetricCatalog, check_expression, is_table_name
from assay.experiments.stats import CupedRatioStats, CupedStats, MeanStats, RatioStats

__all__ = ["Cell", "CompiledExperiment", "MetricColumns", "compile_experiment", "quote"]

AnyStats = MeanStats | RatioStats | CupedStats | CupedRatioStats
_INTERVALS = ((86400, "DAY"), (3600, "HOUR"), (60, "MINUTE"), (1, "SECOND"))
_MISSING = "(missing)"

# sums per statistics field: the product of per-unit columns it adds up (v value, a numerator, d denominator,
# p covariate)
_PRODUCTS: dict[type, dict[str, tuple[str, ...]]] = {
    MeanStats: {"sum": ("v",), "sum_squares": ("v", "v")},
    CupedStats: {"sum": ("v",), "sum_squares": ("v", "v"), "cov_sum": ("p",), "cov_sum_squares": ("p", "p"),
                 "cross_sum": ("v", "p")},
    RatioStats: {"num_sum": ("a",), "num_sum_squares": ("a", "a"), "den_sum": ("d",), "den_sum_squares": ("d", "d"),
                 "num_den_sum": ("a", "d")},
    CupedRatioStats: {"num_sum": ("a",), "num_sum_squares": ("a", "a"), "den_sum": ("d",),
                      "den_sum_squares": ("d", "d"), "num_den_sum": ("a", "d"), "cov_sum": ("p",),
                      "cov_sum_squares": ("p", "p"), "num_cov_sum": ("a", "p"), "den_cov_sum": ("d", "p")},
}  # fmt: skip
_PER_UNIT = {"v": "value", "a": "num", "d": "den", "p": "pre"}


def _interval(base: str, seconds: int) -> str:
    if seconds == 0:
        return base
    for size, unit in _INTERVALS:
        if seconds % size == 0:
            sign = "+" if seconds > 0 else "-"
            return f"{base} {sign} INTERVAL {abs(seconds) // size} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _timestamp_literal(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


@dataclasses.dataclass(frozen=True)
class MetricColumns:
    """Where one metric's sufficient statistics sit in the result: columns ``<name>__<field>``."""

    name: str
    kind: str
    cuped: bool

    @property
    def stats_type(self) -> type:
        if self.kind == "ratio":
            return CupedRatioStats if self.cuped else RatioStats
        return CupedStats if self.cuped else MeanStats

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(_PRODUCTS[self.stats_type])

    def column(self, stat: str) -> str:
        return f"{self.name}__{stat}"

    def read(self, row: Mapping[str, Any], n: int) -> AnyStats:
        """The statistics object for one result row (keys in lower case; NULL sums read as 0)."""
        values = [float(row.get(self.column(f).lower()) or 0.0) for f in self.fields]
        return self.stats_type(n, *values)

    def empty(self) -> AnyStats:
        return self.stats_type(0, *([0.0] * len(self.fields)))


@dataclasses.dataclass(frozen=True)
class Cell:
    """One result row: a variant label (None: no label, or ``multiple`` variants), optionally within a slice."""

    variant: str | None
    multiple: bool
    dimension: str | None
    value: str | None
    n: int
    stats: dict[str, AnyStats]


@dataclasses.dataclass(frozen=True)
class CompiledExperiment:
    """The SQL for an experiment, and how to read its result back into sufficient statistics."""

    sql: str
    metrics: tuple[MetricColumns, ...]
    dimensions: tuple[str, ...]
    scans: tuple[str, ...]
    as_of: dt.datetime | None = None

    def cells(self, table: pa.Table) -> list[Cell]:
        """Parse the query result (one row per variant label × slice) into :class:`Cell` objects."""
        out = []
        for raw in table.to_pylist():
            row = {k.lower(): v for k, v in raw.items()}  # PostgreSQL folds unquoted aliases
            n = int(row.get("n") or 0)
            dimension = value = None
            for d in self.dimensions:
                if row.get(d.lower()) is not None:
                    dimension, value = d, str(row[d.lower()])
            variant = row.get("variant")
            out.append(
                Cell(
                    variant=None if variant is None else str(variant),
                    multiple=bool(row.get("multiple")),
                    dimension=dimension,
                    value=value,
                    n=n,
                    stats={c.name: c.read(row, n) for c in self.metrics},
                )
            )
        return out


def _expr(metric: Metric, what: str, refs: Mapping[str, str], table: str = "r") -> tuple[str, bool] | None:
    """A metric's SQL expression with columns renamed to their actual names (``refs``: lower case → name) and
    qualified with ``table``, and whether it is a condition (ready to follow ``AND``)."""
    node = check_expression(getattr(metric, what), f"'{what}'", metric.name)
    if node is None:
        return None
    node = node.copy()
    for col in node.find_all(exp.Column):
        actual = refs.get(col.name.lower(), col.name)
        col.set("this", exp.to_identifier(actual, quoted=quote(actual) != actual))
        col.set("table", exp.to_identifier(table))
    inner = node.unnest()
    text = node.sql(dialect="duckdb")
    predicate = isinstance(inner, exp.Predicate | exp.Connector | exp.Not | exp.Boolean)
    return (f"({text})" if isinstance(inner, exp.Or) else text), predicate


@dataclasses.dataclass
class _Group:
    """Metrics read from one source by one unit column: one scan."""

    source: str
    unit: str
    metrics: list[Metric]
    timestamps: dict[str, str] = dataclasses.field(default_factory=dict)  # metric name -> its timestamp column
    refs: dict[str, str] = dataclasses.field(default_factory=dict)  # columns the expressions read: lower -> name
    columns: dict[str, str] = dataclasses.field(default_factory=dict)  # per-unit value -> column of the CTE
    name: str = ""


def compile_experiment(
    experiment: Experiment,
    metrics: Mapping[str, Metric] | None = None,
    *,
    catalog: MetricCatalog | None = None,
    engine: Engine | None = None,
    as_of: dt.datetime | dt.date | str | None = None,
) -> CompiledExperiment:
    """Compile ``experiment`` into one SQL query of sufficient statistics (see the module docstring).

    ``metrics`` (name → definition) defaults to ``experiment.resolve_metrics(catalog)``. With ``engine``,
    every referenced column is checked up front (errors name the metric and the column) and names are
    matched case-insensitively; without one, the SQL is built as written. ``as_of`` caps exposures and
    events (exclusive), as does the experiment's ``end``.

    Example::

        print(compile_experiment(experiment, engine=engine).sql)
    """
    metrics = dict(metrics) if metrics is not None else experiment.resolve_metrics(catalog)
    cols = SourceColumns(engine)
    end = experiment.end
    cutoff = parse_time(as_of, "as_of")
    if cutoff is not None:
        end = cutoff if end is None else min(end, cutoff)
    cuped = experiment.cuped
    ordered = [metrics[name] for name in experiment.metric_names]
    plans = tuple(MetricColumns(m.name, m.kind, bool(cuped is not None and m.cuped)) for m in ordered)
    x = experiment.exposures
    owner = f"Experiment {experiment.name!r} exposures"
    unit_x = cols.resolve(x.source, x.unit_column, owner, "unit_column")
    variant_x = cols.resolve(x.source, x.variant_column, owner, "variant_column")
    ts_x = cols.resolve(x.source, x.timestamp_column, owner, "timestamp_column")
    dims = [cols.resolve(x.source, d, owner, "dimensions") for d in experiment.dimensions]
    cols.require_time(x.source, ts_x, owner)

    groups: dict[tuple[str, str], _Group] = {}
    for m in ordered:
        who = f"Metric {m.name!r}"
        unit = cols.resolve(m.source, m.unit_column or x.unit_column, who, "unit_column")
        ts = cols.resolve(m.source, m.timestamp_column or x.timestamp_column, who, "timestamp_column")
        cols.require_time(m.source, ts, who)
        ut, xt = cols.type_of(m.source, unit), cols.type_of(x.source, unit_x)
        if (is_text(ut) and is_number(xt)) or (is_number(ut) and is_text(xt)):
            raise InvalidInputError(
                f"{who}: unit column {unit!r} is {ut} but the exposures' {unit_x!r} is {xt}; "
                "CAST one of them in a SELECT source so units match."
            )
        group = groups.setdefault((m.source, unit), _Group(m.source, unit, []))
        for what in ("value", "numerator", "denominator", "filter"):
            node = check_expression(getattr(m, what), what, m.name)
            for col in sorted({c.name for c in node.find_all(exp.Column)} if node is not None else ()):
                group.refs[col.lower()] = cols.resolve(m.source, col, who, f"in {what!r}")
        group.metrics.append(m)
        group.timestamps[m.name] = ts

    taken = {t.lower() for g in groups.values() for t in _tables(g.source)} | {t.lower() for t in _tables(x.source)}
    cte_units = _unique("exposed_units", taken)
    cte_values = _unique("unit_values", taken)
    taken |= {cte_units, cte_values}
    for i, g in enumerate(groups.values(), start=1):
        base = g.source.split(".")[-1].lower() if is_table_name(g.source) else f"source_{i}"
        g.name = _unique(base, taken, suffixes=("_per_unit",))
        taken.add(f"{g.name}_per_unit")

    ctes = [_exposures_cte(cte_units, experiment, unit_x, variant_x, ts_x, dims, cols, end)]
    for g in groups.values():
        ctes.append(_source_cte(g, cte_units, experiment, plans, end))
    ctes.append(_unit_values_cte(cte_values, cte_units, list(groups.values()), plans, experiment.dimensions))
    sql = "WITH " + ",\n".join(ctes) + "\n" + _final_select(cte_values, plans, experiment.dimensions)
    scans = (x.source, *(g.source for g in groups.values()))
    return CompiledExperiment(sql, plans, tuple(experiment.dimensions), scans, end)


def _tables(source: str) -> set[str]:
    return {source} if is_table_name(source) else referenced_tables(source)


def _unique(base: str, taken: set[str], suffixes: tuple[str, ...] = ("",)) -> str:
    """``base`` (or ``base_2``, ...) such that no ``name + suffix`` is a name already in use."""
    name, i = base, 2
    while any(f"{name}{s}".lower() in taken for s in suffixes):
        name, i = f"{base}_{i}", i + 1
    return name


def _exposures_cte(
    name: str, e: Experiment, unit: str, variant: str, ts: str, dims: list[str], cols: SourceColumns,
    end: dt.datetime | None,
) -> str:  # fmt: skip
    label = quote(variant)
    if not is_text(cols.type_of(e.exposures.source, variant)):
        label = f"CAST({label} AS VARCHAR)"
    lines = [
        f"{quote(unit)} AS unit",
        f"min({quote(ts)}) AS first_exposure",
        f"CASE WHEN min({label}) = max({label}) THEN min({label}) END AS variant",
        f"CASE WHEN min({label}) <> max({label}) THEN 1 ELSE 0 END AS multiple",
    ]
    lines += [
        f"COALESCE(CAST(min({quote(d)}) AS VARCHAR), '{_MISSING}') AS {quote(orig)}"
        for d, orig in zip(dims, e.dimensions, strict=True)
    ]
    where = []
    if e.start is not None:
        where.append(f"{quote(ts)} >= {_timestamp_literal(e.start)}")
    if end is not None:
        where.append(f"{quote(ts)} < {_timestamp_literal(end)}")
    body = (
        "  -- one row per exposed unit: first exposure, variant (NULL when it saw several), slices\n"
        "  SELECT\n" + ",\n".join("    " + line for line in lines) + "\n"
        f"  FROM {from_clause(e.exposures.source, 'e')}\n"
        + (f"  WHERE {' AND '.join(where)}\n" if where else "")
        + f"  GROUP BY {quote(unit)}"
    )
    return f"{name} AS (\n{body}\n)"


def _label(seconds: int) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if seconds % size == 0:
            return ("minus_" if seconds < 0 else "") + f"{abs(seconds) // size}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _source_cte(g: _Group, units: str, e: Experiment, plans: tuple[MetricColumns, ...], end: dt.datetime | None) -> str:
    """One scan of a source: rows joined to their unit's first exposure and flagged by window (inner query),
    then every metric of the source aggregated per unit. Identical aggregates are computed once."""
    by_name = {p.name: p for p in plans}
    pre = e.cuped.pre_period_seconds if e.cuped is not None else 0
    taken = set(g.refs)
    key = _unique("unit", taken)
    flags: dict[tuple[str, int, int | None], str] = {}  # (timestamp, start, end) -> flag column

    def flag(ts: str, start: int, stop: int | None) -> str:
        if (ts, start, stop) not in flags:
            base = f"in_{_label(start)}_{'open' if stop is None else _label(stop)}"
            base += f"_{ts.lower()}" if len(set(g.timestamps.values())) > 1 else ""
            flags[(ts, start, stop)] = _unique(re.sub(r"\W", "_", base), taken | set(flags.values()))
        return "r." + flags[(ts, start, stop)]

    aggregates: dict[str, str] = {}  # aggregate SQL -> column
    for m in g.metrics:
        ts = g.timestamps[m.name]
        windows = [("", flag(ts, m.window.start_seconds, m.window.end_seconds))]
        if by_name[m.name].cuped:
            windows.append(("pre", flag(ts, -pre, 0)))
        filt = _expr(m, "filter", g.refs)
        names = ("numerator", "denominator") if m.kind == "ratio" else ("value",)
        for what in names:
            part = {"numerator": "num", "denominator": "den"}.get(what, what)
            for label, window in windows:
                if label and part == "den":
                    continue  # the covariate of a ratio is its pre-period numerator
                cond = window + (f" AND {filt[0]}" if filt else "")
                agg = _aggregate(m, cond, _expr(m, what, g.refs))
                g.columns[f"{m.name}__{label or part}"] = aggregates.setdefault(agg, f"{m.name}__{label or part}")
    lines = [f"r.{key}" if key == "unit" else f"r.{key} AS unit"] + [
        f"{agg} AS {quote(col)}" for agg, col in aggregates.items()
    ]
    inner = [f"x.unit AS {key}"] + [f"v.{quote(c)}" for c in sorted(g.refs.values())]
    inner += [f"{_between('v.' + quote(ts), lo, hi)} AS {name}" for (ts, lo, hi), name in flags.items()]
    where = []
    stamps = set(g.timestamps.values())
    if len(stamps) == 1:
        ts = "v." + quote(next(iter(stamps)))
        if e.start is not None:
            lower = e.start - dt.timedelta(seconds=pre if any(by_name[m.name].cuped for m in g.metrics) else 0)
            where.append(f"{ts} >= {_timestamp_literal(lower)}")
        if end is not None:
            where.append(f"{ts} < {_timestamp_literal(end)}")
        span = _span(g, by_name, pre)
        where += [span] if span else []
    source = from_clause(g.source, "v").replace("\n", "\n  ")
    return (
        f"{g.name}_per_unit AS (\n"
        f"  -- one pass over {short(g.source)}: each metric per exposed unit, inside its window\n"
        "  SELECT\n" + ",\n".join("    " + line for line in lines) + "\n"
        "  FROM (\n"
        "    SELECT\n" + ",\n".join("      " + line for line in inner) + "\n"
        f"    FROM {units} AS x\n"
        f"    JOIN {source} ON v.{quote(g.unit)} = x.unit\n"
        + (f"    WHERE {' AND '.join(where)}\n" if where else "")
        + f"  ) AS r\n  GROUP BY r.{key}\n)"
    )


def _span(g: _Group, plans: Mapping[str, MetricColumns], pre: int) -> str | None:
    """Rows inside some metric's window (when every window is bounded), so no other row reaches the aggregate."""
    if any(m.window.end_seconds is None for m in g.metrics):
        return None
    lows = [m.window.start_seconds for m in g.metrics] + [-pre for m in g.metrics if plans[m.name].cuped]
    high = max(m.window.end_seconds or 0 for m in g.metrics)
    return _between("v." + quote(next(iter(g.timestamps.values()))), min(lows), high)


def _between(ts: str, start: int, end: int | None) -> str:
    cond = f"{ts} >= {_interval('x.first_exposure', start)}"
    if end is not None:
        cond += f" AND {ts} < {_interval('x.first_exposure', end)}"
    return cond


def _aggregate(m: Metric, cond: str, value: tuple[str, bool] | None) -> str:
    """The per-unit aggregate of ``value`` over the rows meeting ``cond`` (a proportion: any such row).

    A condition as the value counts (``sum``), or flags (``max``, proportions) the rows that meet it.
    """
    text, predicate = value if value is not None else ("1", False)
    if m.kind == "proportion" or (predicate and m.aggregation == "max"):
        cond += f" AND {text}" if predicate else ("" if value is None else f" AND ({text}) > 0")
        return f"CAST(max(CASE WHEN {cond} THEN 1 ELSE 0 END) AS DOUBLE)"
    if predicate and m.aggregation == "sum":
        return f"CAST(count(CASE WHEN {cond} AND {text} THEN 1 END) AS DOUBLE)"
    if predicate:
        text = f"CASE WHEN {text} THEN 1 ELSE 0 END"
    return f"CAST({m.aggregation}(CASE WHEN {cond} THEN {text} END) AS DOUBLE)"


def _unit_values_cte(
    name: str, units: str, groups: list[_Group], plans: tuple[MetricColumns, ...], dims: tuple[str, ...]
) -> str:
    lines = ["x.variant", "x.multiple", *(f"x.{quote(d)}" for d in dims)]
    joins = []
    alias_of = {}
    for i, g in enumerate(groups, start=1):
        alias = f"m{i}"
        joins.append(f"  LEFT JOIN {g.name}_per_unit AS {alias} ON {alias}.unit = x.unit")
        alias_of.update({m.name: (alias, g.columns) for m in g.metrics})
    for p in plans:
        alias, columns = alias_of[p.name]
        for part in _parts(p):
            col = f"{p.name}__{part}"
            lines.append(f"COALESCE({alias}.{quote(columns[col])}, 0) AS {quote(col)}")
    return (
        f"{name} AS (\n"
        "  -- every exposed unit; 0 where it has no rows for a metric\n"
        "  SELECT\n" + ",\n".join("    " + line for line in lines) + "\n"
        f"  FROM {units} AS x" + "".join("\n" + j for j in joins) + "\n)"
    )


def _parts(p: MetricColumns) -> tuple[str, ...]:
    parts = ("num", "den") if p.kind == "ratio" else ("value",)
    return (*parts, "pre") if p.cuped else parts


def _final_select(values: str, plans: tuple[MetricColumns, ...], dims: tuple[str, ...]) -> str:
    keys = ["variant", "multiple", *(quote(d) for d in dims)]
    lines = [*keys, "count(*) AS n"]
    for p in plans:
        for stat, factors in _PRODUCTS[p.stats_type].items():
            product = " * ".join(quote(f"{p.name}__{_PER_UNIT[f]}") for f in factors)
            lines.append(f"CAST(sum({product}) AS DOUBLE) AS {quote(p.column(stat))}")
    if dims:
        sets = ", ".join(["(variant, multiple)", *(f"(variant, multiple, {quote(d)})" for d in dims)])
        group = f"GROUP BY GROUPING SETS ({sets})"
    else:
        group = "GROUP BY variant, multiple"
    return (
        "-- sufficient statistics per variant" + (" and slice" if dims else "") + "\n"
        "SELECT\n" + ",\n".join("  " + line for line in lines) + f"\nFROM {values}\n{group}"
    )
