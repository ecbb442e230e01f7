"""SQL compilation: the sums match a direct per-unit computation in pandas, each source is scanned once,
and bad definitions fail up front with the metric and the column named."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from assay.engine import Engine, connect
from assay.errors import InvalidInputError
from assay.experiments import Experiment, Metric, compile_experiment, stats
from assay.experiments.compile import Cell

from .conftest import EXPERIMENT_YAML, ExperimentData

DAY = 86400.0
# what each metric of EXPERIMENT_YAML means, in pandas: (frame, timestamp, per-row value, aggregation, window)
Row = Callable[[pd.DataFrame], pd.Series]
REFERENCE: dict[str, tuple[str, str, Row, str, tuple[float, float]]] = {
    "conversion": ("events", "ts", lambda d: (d["event"] == "purchase").astype(float), "max", (0, 14 * DAY)),
    "revenue": ("events", "ts", lambda d: d["amount"], "sum", (0, 14 * DAY)),
    "purchases": ("events", "ts", lambda d: (d["event"] == "purchase").astype(float), "sum", (0, 7 * DAY)),
    "views": ("events", "ts", lambda d: (d["event"] == "view").astype(float), "sum", (0, 14 * DAY)),
    "revenue_per_order": ("orders", "created_at", lambda d: d["amount"], "sum", (0, 14 * DAY)),
    "max_order": ("orders", "created_at", lambda d: d["amount"], "max", (3600, 14 * DAY)),
}


def reference_units(data: ExperimentData, variants: tuple[str, ...], as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """First exposure, variant and country per unit, without multi-variant units and unknown labels."""
    ex = data.exposures if as_of is None else data.exposures[data.exposures["exposed_at"] < as_of]
    g = ex.groupby("user_id").agg(
        first=("exposed_at", "min"), lo=("variant", "min"), hi=("variant", "max"), country=("country", "min")
    )
    g = g[(g["lo"] == g["hi"]) & g["lo"].isin(variants)]
    return g.assign(variant=g["lo"])


def reference_values(
    data: ExperimentData, units: pd.DataFrame, name: str, window: tuple[float, float] | None = None,
    as_of: pd.Timestamp | None = None, one: bool = False,
) -> pd.Series:  # fmt: skip
    """Per-unit value of metric ``name`` (``one``: the constant 1 per row, a ratio's denominator)."""
    frame_name, ts, value, how, default_window = REFERENCE[name]
    frame = data.frames[frame_name]
    if as_of is not None:
        frame = frame[frame[ts] < as_of]
    lo, hi = window or default_window
    rows = frame.assign(_v=1.0 if one else value(frame)).merge(units[["first"]], left_on="user_id", right_index=True)
    offset = (rows[ts] - rows["first"]).dt.total_seconds()
    rows = rows[(offset >= lo) & (offset < hi)]
    return rows.groupby("user_id")["_v"].agg(how).reindex(units.index).fillna(0.0)


def reference_stats(
    data: ExperimentData, experiment: Experiment, as_of: pd.Timestamp | None = None, slice_: str | None = None
) -> dict[str, dict[str, object]]:
    """variant → metric → sufficient statistics computed unit by unit in pandas."""
    units = reference_units(data, experiment.variants, as_of)
    if slice_ is not None:
        units = units[units["country"] == slice_]
    pre = (-14 * DAY, 0.0)
    out: dict[str, dict[str, object]] = {}
    for variant, arm in units.groupby("variant"):
        out[str(variant)] = {}
        for m in experiment.resolve_metrics().values():
            y = reference_values(data, arm, m.name, as_of=as_of)
            x = reference_values(data, arm, m.name, window=pre, as_of=as_of) if m.cuped else None
            if m.kind == "ratio":
                d = reference_values(data, arm, m.name, as_of=as_of, one=True)
                out[str(variant)][m.name] = (
                    stats.CupedRatioStats.from_values(y, d, x) if x is not None else stats.RatioStats.from_values(y, d)
                )
            else:
                out[str(variant)][m.name] = (
                    stats.CupedStats.from_values(y, x) if x is not None else stats.MeanStats.from_values(y)
                )
    return out


def _assert_same(actual: object, expected: object) -> None:
    assert type(actual) is type(expected)
    for field in expected.__dataclass_fields__:  # type: ignore[attr-defined]
        assert getattr(actual, field) == pytest.approx(getattr(expected, field), rel=1e-9, abs=1e-9), field


def _run(eng: Engine, experiment: Experiment, **kwargs: object) -> list[Cell]:
    compiled = compile_experiment(experiment, engine=eng, **kwargs)  # type: ignore[arg-type]
    return compiled.cells(eng.sql(compiled.sql))


@pytest.fixture(scope="module")
def duck(exp_data: ExperimentData) -> Engine:
    eng = connect()
    for name, frame in exp_data.frames.items():
        eng.register(name, frame)
    return eng


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return Experiment.from_yaml(EXPERIMENT_YAML)


def test_sql_sums_match_a_per_unit_computation(duck: Engine, experiment: Experiment, exp_data: ExperimentData) -> None:
    cells = {c.variant: c for c in _run(duck, experiment) if c.dimension is None and not c.multiple}
    expected = reference_stats(exp_data, experiment)
    for variant in experiment.variants:
        assert cells[variant].n == next(iter(expected[variant].values())).n  # type: ignore[attr-defined]
        for name, want in expected[variant].items():
            _assert_same(cells[variant].stats[name], want)


def test_ratio_and_cuped_estimates_match_the_stats_functions(
    duck: Engine, experiment: Experiment, exp_data: ExperimentData
) -> None:
    cells = {c.variant: c for c in _run(duck, experiment) if c.dimension is None and not c.multiple}
    expected = reference_stats(exp_data, experiment)
    for name in ("revenue_per_order", "revenue", "conversion"):
        got = stats.cuped_ttest(cells["control"].stats[name], cells["treatment"].stats[name])
        want = stats.cuped_ttest(expected["control"][name], expected["treatment"][name])  # type: ignore[arg-type]
        for a, b in (
            (got.estimate, want.estimate),
            (got.se, want.se),
            (got.unadjusted.estimate, want.unadjusted.estimate),
        ):
            assert a == pytest.approx(b, rel=1e-9)
    ratio = cells["treatment"].stats["revenue_per_order"].ratio_stats  # type: ignore[union-attr]
    assert ratio.ratio == pytest.approx(expected["treatment"]["revenue_per_order"].ratio, rel=1e-12)  # type: ignore[attr-defined]


def test_slices_match_and_pool_to_the_whole(duck: Engine, experiment: Experiment, exp_data: ExperimentData) -> None:
    cells = [c for c in _run(duck, experiment) if not c.multiple and c.variant in experiment.variants]
    overall = {c.variant: c for c in cells if c.dimension is None}
    sliced = [c for c in cells if c.dimension == "country"]
    assert {c.value for c in sliced} == {"DE", "FR", "US"}
    for c in sliced:
        if c.value == "FR":
            want = reference_stats(exp_data, experiment, slice_="FR")[str(c.variant)]
            for name, s in want.items():
                _assert_same(c.stats[name], s)
    for variant, whole in overall.items():
        parts = [c for c in sliced if c.variant == variant]
        assert sum(c.n for c in parts) == whole.n
        pooled = sum(c.stats["revenue"] for c in parts)
        for field in ("sum", "sum_squares", "cross_sum"):
            assert getattr(pooled, field) == pytest.approx(getattr(whole.stats["revenue"], field), rel=1e-12)


def test_as_of_caps_exposures_and_events(duck: Engine, experiment: Experiment, exp_data: ExperimentData) -> None:
    as_of = pd.Timestamp("2024-03-05 12:00:00")
    cells = {c.variant: c for c in _run(duck, experiment, as_of=as_of) if c.dimension is None and not c.multiple}
    expected = reference_stats(exp_data, experiment, as_of=as_of)
    for variant in experiment.variants:
        for name, want in expected[variant].items():
            _assert_same(cells[variant].stats[name], want)


def test_data_quality_rows_come_from_the_same_query(duck: Engine, experiment: Experiment) -> None:
    overall = [c for c in _run(duck, experiment) if c.dimension is None]
    assert sum(c.n for c in overall if c.multiple) == 12
    assert {c.variant: c.n for c in overall if not c.multiple and c.variant not in experiment.variants} == {
        "treatmnt": 8
    }


def _table_refs(sql: str) -> dict[str, int]:
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    counts: dict[str, int] = {}
    for t in tree.find_all(exp.Table):
        if t.name not in ctes:
            counts[t.name] = counts.get(t.name, 0) + 1
    return counts


def test_each_source_is_scanned_once(exp_data: ExperimentData, experiment: Experiment) -> None:
    compiled = compile_experiment(experiment)  # no engine: the SQL as written
    assert _table_refs(compiled.sql) == {"exposures": 1, "events": 1, "orders": 1}
    assert compiled.scans == ("exposures", "events", "orders")
    with connect() as eng:
        for name, path in exp_data.files.items():
            eng.register(name, path)
        plan = "\n".join(str(v) for v in eng.sql("EXPLAIN " + compiled.sql).column(1).to_pylist())
        assert plan.count("READ_PARQUET") == 3  # exposures, events, orders: one read each


def test_compiled_sql_shape(experiment: Experiment) -> None:
    sql = compile_experiment(experiment).sql
    for cte in ("exposed_units AS", "events_per_unit AS", "orders_per_unit AS", "unit_values AS"):
        assert cte in sql
    assert "GROUP BY GROUPING SETS ((variant, multiple), (variant, multiple, country))" in sql
    assert "v.ts < x.first_exposure + INTERVAL 14 DAY" in sql and "INTERVAL 1 HOUR" in sql
    assert "revenue_per_order__num_den_sum" in sql and "revenue__cross_sum" in sql
    assert "purchases__cov_sum" not in sql  # cuped: false on that metric
    for dialect in ("spark", "postgres"):
        sqlglot.transpile(sql, read="duckdb", write=dialect)


def test_missing_columns_name_the_metric_and_the_column(duck: Engine, experiment: Experiment) -> None:
    bad = Metric("revenue", source="events", value="amount_usd * 2", timestamp_column="ts")
    with pytest.raises(InvalidInputError, match=r"Metric 'revenue': column 'amount_usd' \(in 'value'\) not found in "
                       r"'events'\. Did you mean 'amount'\?"):  # fmt: skip
        compile_experiment(experiment, {**experiment.resolve_metrics(), "revenue": bad}, engine=duck)
    cases = [
        (Metric("revenue", source="events", value="amount", timestamp_column="time"), "'time' (timestamp_column)"),
        (Metric("revenue", source="events", value="amount", timestamp_column="ts", unit_column="uid"),
         "'uid' (unit_column)"),
        (Metric("revenue", source="events", value="amount", timestamp_column="ts", filter="kind = 'x'"),
         "'kind' (in 'filter')"),
        (Metric("revenue", source="clicks", value="amount", timestamp_column="ts"), "cannot read its source 'clicks'"),
    ]  # fmt: skip
    for metric, message in cases:
        with pytest.raises(InvalidInputError, match=rf"Metric 'revenue': .*{re.escape(message)}"):
            compile_experiment(experiment, {**experiment.resolve_metrics(), "revenue": metric}, engine=duck)
    wrong_exposures = Experiment.from_dict({**experiment.to_dict(), "dimensions": ["region"]})
    with pytest.raises(InvalidInputError, match=r"exposures: column 'region' \(dimensions\) not found"):
        compile_experiment(wrong_exposures, engine=duck)


def test_type_problems_are_caught_before_running(duck: Engine, experiment: Experiment) -> None:
    m = Metric("revenue", source="events", value="amount", timestamp_column="event")
    with pytest.raises(InvalidInputError, match="'event' is VARCHAR, not a TIMESTAMP or DATE"):
        compile_experiment(experiment, {**experiment.resolve_metrics(), "revenue": m}, engine=duck)
    m = Metric("revenue", source="SELECT CAST(user_id AS VARCHAR) AS user_id, ts, amount FROM events",
               value="amount", timestamp_column="ts")  # fmt: skip
    with pytest.raises(
        InvalidInputError, match="unit column 'user_id' is VARCHAR but the exposures' 'user_id' is BIGINT"
    ):
        compile_experiment(experiment, {**experiment.resolve_metrics(), "revenue": m}, engine=duck)


def test_odd_names_select_sources_and_colliding_tables(exp_data: ExperimentData) -> None:
    """Quoted column names, a SELECT source, an exposures table named like a CTE, one source two timestamps."""
    ex = exp_data.exposures.rename(columns={"user_id": "User Id", "variant": "group"})
    ex["group"] = ex["group"].map({"control": 0, "treatment": 1, "treatmnt": 7})
    ev = exp_data.events.assign(day=exp_data.events["ts"].dt.floor("D"))
    e = Experiment(
        "odd", exposures={"source": "exposed_units", "unit_column": "user id", "variant_column": "Group",
                          "timestamp_column": "exposed_at"},
        variants=["0", "1"], primary_metric="revenue", secondary_metrics=["daily"], cuped="14d",
        metrics=[Metric("revenue", source="SELECT user_id AS uid, ts, amount FROM events WHERE amount > 0",
                        unit_column="uid", timestamp_column="ts", value="amount", window="14d"),
                 Metric("daily", source="events", unit_column="user_id", timestamp_column="day", value="1")],
    )  # fmt: skip
    with connect() as eng:
        eng.register("exposed_units", ex)
        eng.register("events", ev)
        compiled = compile_experiment(e, engine=eng)
        assert '"User Id" AS unit' in compiled.sql and 'CAST("group" AS VARCHAR)' in compiled.sql
        cells = {c.variant: c for c in compiled.cells(eng.sql(compiled.sql)) if not c.multiple}
    ref = reference_stats(exp_data, Experiment.from_yaml(EXPERIMENT_YAML))
    assert cells["0"].n == ref["control"]["revenue"].n  # type: ignore[attr-defined]
    _assert_same(cells["1"].stats["revenue"], ref["treatment"]["revenue"])
    assert cells["7"].n == 8  # the unknown label, as text


def test_quick_on_a_million_events() -> None:
    """Performance sanity (not a benchmark): 100k units and 1M events in well under the test budget."""
    with connect() as eng:
        rng = np.random.default_rng(0)
        n_units, n_events = 100_000, 1_000_000
        exposures = pd.DataFrame({
            "user_id": np.arange(n_units), "variant": rng.choice(["control", "treatment"], n_units),
            "exposed_at": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 7 * 86400, n_units), "s"),
            "country": rng.choice(["DE", "FR"], n_units),
        })  # fmt: skip
        events = pd.DataFrame({
            "user_id": rng.integers(0, n_units, n_events),
            "ts": pd.Timestamp("2024-02-10") + pd.to_timedelta(rng.integers(0, 40 * 86400, n_events), "s"),
            "event": rng.choice(["view", "purchase"], n_events, p=[0.8, 0.2]),
            "amount": rng.integers(0, 200, n_events) / 2,
        })  # fmt: skip
        orders = events[events["event"] == "purchase"].rename(columns={"ts": "created_at"})
        for name, frame in {"exposures": exposures, "events": events, "orders": orders}.items():
            eng.register(name, frame)
        experiment = Experiment.from_yaml(EXPERIMENT_YAML)
        started = time.perf_counter()
        compiled = compile_experiment(experiment, engine=eng)
        cells = compiled.cells(eng.sql(compiled.sql))
        elapsed = time.perf_counter() - started
    assert sum(c.n for c in cells if c.dimension is None) == n_units
    assert elapsed < 20, f"{elapsed:.1f}s for 1M events"


def test_expression_forms_match_pandas(exp_data: ExperimentData) -> None:
    """OR filters, conditions as values under each aggregation, an open window, a column named ``unit``."""
    ev = exp_data.events.assign(unit=exp_data.events["amount"])
    on = {"source": "events", "timestamp_column": "ts", "window": "14d", "cuped": False}
    metrics = [
        Metric("any_or", kind="proportion", filter="event = 'view' OR unit > 40", **on),
        Metric("count_rows", value="1", aggregation="count", filter="event = 'purchase'", **on),
        Metric("count_pred", value="event = 'purchase'", aggregation="count", **on),
        Metric("max_pred", value="unit > 30", aggregation="max", **on),
        Metric("sum_pred", value="unit > 30", **on),
        Metric("open_sum", value="unit", **{**on, "window": None}),
    ]
    exposures = {"source": "exposures", "unit_column": "user_id", "timestamp_column": "exposed_at"}
    e = Experiment("forms", exposures=exposures, variants=["control", "treatment"], primary_metric="any_or",
                   secondary_metrics=[m.name for m in metrics[1:]], metrics=metrics)  # fmt: skip
    with connect() as eng:
        eng.register("exposures", exp_data.exposures)
        eng.register("events", ev)
        compiled = compile_experiment(e, engine=eng)
        cells = {c.variant: c for c in compiled.cells(eng.sql(compiled.sql)) if not c.multiple}
    assert "unit_2" in compiled.sql  # the source's own `unit` column keeps its name
    units = reference_units(exp_data, e.variants)
    rows = ev.merge(units[["first"]], left_on="user_id", right_index=True)
    offset = (rows["ts"] - rows["first"]).dt.total_seconds()
    in14 = rows[(offset >= 0) & (offset < 14 * DAY)]
    purchase = in14["event"] == "purchase"
    per_row = {
        "any_or": (((in14["event"] == "view") | (in14["unit"] > 40)).astype(float), "max"),
        "count_rows": (purchase[purchase].astype(float), "count"),
        "count_pred": (purchase.astype(float), "count"),
        "max_pred": ((in14["unit"] > 30).astype(float), "max"),
        "sum_pred": ((in14["unit"] > 30).astype(float), "sum"),
        "open_sum": (rows[offset >= 0]["unit"], "sum"),
    }
    for name, (values, how) in per_row.items():
        frame = rows.loc[values.index, ["user_id"]].assign(v=values)
        per_unit = frame.groupby("user_id")["v"].agg(how).reindex(units.index).fillna(0.0)
        for variant in e.variants:
            want = stats.MeanStats.from_values(per_unit[units["variant"] == variant])
            _assert_same(cells[variant].stats[name], want)
