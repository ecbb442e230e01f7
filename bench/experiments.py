"""Experiment-analysis benchmark: assay against the DuckDB floor and pandas + scipy, same machine, same run.

The task. An A/B/C test (``control``, ``treatment_a``, ``treatment_b``, equal weights) over 10,000,000 units and
100,000,000 events, analysed over the 14 days after each unit's first exposure: 10 metrics per treatment —
purchases, items, sessions and views per unit (means), conversion, add-to-cart and refund rates (proportions:
any such event in the window), revenue per unit (mean), revenue per purchase and items per session (ratios,
delta method), with CUPED on revenue, items and sessions per unit using the 14 days before exposure. Units with
no event in the window count as zeros.

The data (cached under ``bench/_work/experiments/``, git-ignored; ``--regenerate`` rebuilds it). Generated with
numpy in chunks of units (about a gigabyte of memory at most), seeded, so every run sees the same bytes:

* ``exposures.parquet`` — ``unit_id`` BIGINT, ``variant`` (equal weights), ``first_exposure`` TIMESTAMP (uniform
  over a 28-day enrolment), ``country`` and ``platform`` dimensions.
* ``events/part-NNNNN.parquet`` — 10 files (one per slice of units, sorted by time; row groups of 1,000,000, zstd):
  ``unit_id``, ``ts`` TIMESTAMP, ``event`` (view, session, add_to_cart, purchase, refund; dictionary-encoded
  VARCHAR), ``revenue`` DOUBLE (purchases positive, refunds negative), ``items`` INT. Events span 14 days before
  the enrolment to 14 days after it, so every unit has a full pre-period and a full analysis window; outside
  those 28 days a unit is 4× less active. Each unit has a gamma-distributed activity level and propensity to
  shop and a log-normal basket size, shared by its pre- and post-exposure events: that is what CUPED exploits
  (it cuts the variance of sessions per unit by about 30%, of items by 25%, of revenue by about 5%). True
  lifts: ``treatment_a`` +3% add-to-carts and +5% purchases; ``treatment_b`` +3% views, +2% sessions, +2%
  revenue per purchase and +10% refunds (a guardrail harm).
* ``sample/`` — the first tenth of the units (their exposures and their events file): the 10× smaller sample.

What is measured (each repeat of each approach runs in a fresh subprocess that reports its own wall time, from
the first line of the analysis to the finished result, and its peak RSS; approaches are interleaved within each
repeat so machine load hits all of them; the table shows medians over ``--repeats``):

(a) assay end to end: the metrics and the experiment defined with ``assay.experiments``, ``analyze(...)`` on
    DuckDB over the Parquet files, and the result's ``summary()`` rendered. Also run on the sample, to check its
    per-variant means of all 10 metrics against pandas' on the same data (and against (d) on the full data).
(b) the floor: one DuckDB aggregate scan of the events (``SELECT event, count(*), sum(revenue), sum(items) …
    GROUP BY event``) — the least work any correct analysis must do.
(c) pandas + scipy, as an analyst would write it: ``pd.read_parquet`` (pyarrow), merge with the exposures,
    window filter, ``groupby`` unit → per-unit metrics, Welch t-tests with ``scipy.stats.ttest_ind``, the delta
    method for ratios, CUPED with an OLS theta. Always run on the sample; on the full data only when the sample's
    peak memory × 10 fits in half of the available memory (``--pandas auto``, the default) or when forced with
    ``--pandas full``. Otherwise the full-size time is the sample's × 10, labelled *extrapolated*.
(d) extra, for reference: the same task as one hand-written DuckDB query (join, per-unit aggregate, per-variant
    sums) plus ``assay.experiments.stats`` — what compiled SQL can hope to reach.

Targets (issue 3): assay ≤ 2× the floor; assay ≥ 10× faster than pandas; assay's peak memory ≤ 4 GB.

Run it::

    python bench/experiments.py                      # 10M units, 100M events; generation takes minutes the first time
    python bench/experiments.py --quick              # 1M units, 10M events
    python bench/experiments.py --repeats 5 --out experiments.json
    python bench/experiments.py --units 2_000_000 --events 20_000_000 --regenerate

Progress goes to stderr, assay's summary and the Markdown table to stdout, raw timings to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from _common import fmt_time, machine_info, median, progress, write_json

WORK = Path(__file__).resolve().parent / "_work" / "experiments"
SEED = 20240301
VARIANTS = ("control", "treatment_a", "treatment_b")
EVENTS = ("view", "session", "add_to_cart", "purchase", "refund")
BASE_MIX = np.array([0.52, 0.25, 0.15, 0.06, 0.02])  # share of each event type in a unit's activity
RATE_LIFT = {  # multiplier of each event type's rate in the 14 days after exposure
    "control": (1.00, 1.00, 1.00, 1.00, 1.00),
    "treatment_a": (1.00, 1.00, 1.03, 1.05, 1.00),
    "treatment_b": (1.03, 1.02, 1.00, 1.00, 1.10),
}
AMOUNT_LIFT = {"control": 1.00, "treatment_a": 1.00, "treatment_b": 1.02}  # purchase amounts after exposure
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "CA")
COUNTRY_WEIGHTS = (0.35, 0.12, 0.11, 0.09, 0.12, 0.09, 0.06, 0.06)
PLATFORMS = ("ios", "android", "web")
PLATFORM_WEIGHTS = (0.40, 0.35, 0.25)
ACTIVITY_SHAPE = 0.8  # gamma shape of each unit's activity level (mean 1)
BUYER_SHAPE = 0.6  # gamma shape of each unit's propensity to shop (mean 1)
BASKET_SIGMA = 0.6  # log-normal spread of each unit's basket size (mean 1)
REST_ACTIVITY = 0.25  # activity outside the 14 days either side of exposure, relative to inside
DATA_VERSION = 2  # bump when the generator changes: the cache folder is named after it
AMOUNT_MU, AMOUNT_SIGMA = 3.3, 0.6  # log-normal purchase amount (about 33 on average)

DAY_US = 86_400_000_000
START_US = int(np.datetime64("2024-03-01T00:00:00", "us").astype(np.int64))  # first exposure day
ENROL_DAYS, WINDOW_DAYS, PRE_DAYS = 28, 14, 14
SPAN_DAYS = PRE_DAYS + ENROL_DAYS + WINDOW_DAYS  # events from START - 14 d to START + 42 d
T0_US = START_US - PRE_DAYS * DAY_US
DAY_EQUIVALENTS = PRE_DAYS + WINDOW_DAYS + REST_ACTIVITY * (SPAN_DAYS - PRE_DAYS - WINDOW_DAYS)
ROW_GROUP = 1_000_000
MAX_CHUNK_UNITS = 1_000_000  # memory: ~10 events a unit → ~10M rows, about 1 GB of numpy at the peak
GB = 1024**3


@dataclass(frozen=True)
class Spec:
    """One of the 10 metrics, over the per-unit columns of the 14-day window."""

    name: str
    kind: str  # mean | proportion | ratio
    value: str  # per-unit column (numerator for ratios)
    den: str | None = None  # per-unit denominator column (ratios)
    covariate: str | None = None  # per-unit pre-period column (CUPED)


METRICS = (
    Spec("purchases_per_unit", "mean", "purchases"),
    Spec("conversion", "proportion", "converted"),
    Spec("revenue_per_unit", "mean", "revenue", covariate="pre_revenue"),
    Spec("items_per_unit", "mean", "items", covariate="pre_items"),
    Spec("sessions_per_unit", "mean", "sessions", covariate="pre_sessions"),
    Spec("add_to_cart_rate", "proportion", "carted"),
    Spec("refund_rate", "proportion", "refunded"),
    Spec("views_per_unit", "mean", "views"),
    Spec("revenue_per_purchase", "ratio", "revenue", den="purchases"),
    Spec("items_per_session", "ratio", "items", den="sessions"),
)


def true_lifts() -> dict[str, dict[str, float]]:
    """Relative lifts of the expected per-unit values (and of ratios of expectations) built into the data."""
    amount = math.exp(AMOUNT_MU + AMOUNT_SIGMA**2 / 2)
    out: dict[str, dict[str, float]] = {}
    for variant in VARIANTS[1:]:
        rate = {e: BASE_MIX[i] * RATE_LIFT[variant][i] for i, e in enumerate(EVENTS)}
        base = {e: BASE_MIX[i] for i, e in enumerate(EVENTS)}

        def values(r: dict[str, float], lift: float) -> dict[str, float]:
            revenue = r["purchase"] * amount * lift - r["refund"] * amount
            items = r["purchase"] * 2.0  # 1 + Poisson(basket size), basket size of mean 1
            return {
                "purchases_per_unit": r["purchase"],
                "views_per_unit": r["view"],
                "sessions_per_unit": r["session"],
                "revenue_per_unit": revenue,
                "items_per_unit": items,
                "revenue_per_purchase": revenue / r["purchase"],
                "items_per_session": items / r["session"],
            }

        t, c = values(rate, AMOUNT_LIFT[variant]), values(base, 1.0)
        out[variant] = {k: t[k] / c[k] - 1 for k in t}
    return out


# -- data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def exposures(self) -> Path:
        return self.root / "exposures.parquet"

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def events_glob(self) -> str:
        return str(self.events_dir / "*.parquet")

    @property
    def sample(self) -> Paths:
        return Paths(self.root / "sample")


def _dictionary(codes: np.ndarray, labels: tuple[str, ...]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), pa.array(labels, pa.string()))


EXPOSURE_SCHEMA = pa.schema(
    [
        ("unit_id", pa.int64()),
        ("variant", pa.dictionary(pa.int8(), pa.string())),
        ("first_exposure", pa.timestamp("us")),
        ("country", pa.dictionary(pa.int8(), pa.string())),
        ("platform", pa.dictionary(pa.int8(), pa.string())),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("unit_id", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("event", pa.dictionary(pa.int8(), pa.string())),
        ("revenue", pa.float64()),
        ("items", pa.int32()),
    ]
)


def _segment(
    rng: np.random.Generator, rate: np.ndarray, days: float
) -> tuple[np.ndarray, np.ndarray]:  # (unit index of each event, uniform position in [0, 1) within the segment)
    counts = rng.poisson(rate * days)
    unit = np.repeat(np.arange(len(rate), dtype=np.int32), counts)
    return unit, rng.random(len(unit))


def _event_types(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Event-type codes from per-row cumulative probabilities (rows × 4 cut points)."""
    u = rng.random(len(cumulative))[:, None]
    return (u >= cumulative).sum(axis=1).astype(np.int8)


def generate_chunk(rng: np.random.Generator, first_id: int, n: int, per_unit: float) -> tuple[pa.Table, pa.Table]:
    """Exposures and events (sorted by time) for units ``first_id … first_id + n - 1``."""
    variant = rng.integers(0, len(VARIANTS), n).astype(np.int8)
    exposure = START_US + (rng.random(n) * ENROL_DAYS * DAY_US).astype(np.int64)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)
    platform = rng.choice(len(PLATFORMS), n, p=PLATFORM_WEIGHTS)
    activity = rng.gamma(ACTIVITY_SHAPE, 1 / ACTIVITY_SHAPE, n) * per_unit / DAY_EQUIVALENTS  # events a day
    buyer = rng.gamma(BUYER_SHAPE, 1 / BUYER_SHAPE, n)  # mean 1: scales add-to-carts, purchases, refunds
    basket = rng.lognormal(-(BASKET_SIGMA**2) / 2, BASKET_SIGMA, n)  # mean 1: scales amounts and items
    unit_ids = np.arange(first_id, first_id + n, dtype=np.int64)
    exposures = pa.Table.from_arrays(
        [
            pa.array(unit_ids),
            _dictionary(variant, VARIANTS),
            pa.array(exposure.view("datetime64[us]")),
            _dictionary(country, COUNTRIES),
            _dictionary(platform, PLATFORMS),
        ],
        schema=EXPOSURE_SCHEMA,
    )

    # per-unit weights of each event type: before exposure, and in the window (with the variant's lifts)
    commerce = np.isin(np.array(EVENTS), ("add_to_cart", "purchase", "refund"))
    base = BASE_MIX * np.where(commerce, buyer[:, None], 1.0)  # units × event types
    post = base * np.array([RATE_LIFT[v] for v in VARIANTS])[variant]
    base_total, post_total = base.sum(axis=1), post.sum(axis=1)
    base_cut = np.cumsum(base / base_total[:, None], axis=1)[:, :-1]
    post_cut = np.cumsum(post / post_total[:, None], axis=1)[:, :-1]
    del base, post
    parts = []
    # pre-period [e - 14 d, e)
    unit, pos = _segment(rng, activity * base_total, PRE_DAYS)
    ts = exposure[unit] - PRE_DAYS * DAY_US + (pos * PRE_DAYS * DAY_US).astype(np.int64)
    parts.append((unit, ts, _event_types(rng, base_cut[unit]), False))
    # analysis window [e, e + 14 d): the variant's rates
    unit, pos = _segment(rng, activity * post_total, WINDOW_DAYS)
    ts = exposure[unit] + (pos * WINDOW_DAYS * DAY_US).astype(np.int64)
    parts.append((unit, ts, _event_types(rng, post_cut[unit]), True))
    # the rest of the span, before the pre-period or after the window, at a lower rate
    rest_days = SPAN_DAYS - PRE_DAYS - WINDOW_DAYS
    unit, pos = _segment(rng, activity * base_total * REST_ACTIVITY, rest_days)
    offset = (pos * rest_days * DAY_US).astype(np.int64)
    before = exposure[unit] - PRE_DAYS * DAY_US - T0_US  # length of the part before the pre-period
    ts = np.where(offset < before, T0_US + offset, exposure[unit] + WINDOW_DAYS * DAY_US + offset - before)
    parts.append((unit, ts, _event_types(rng, base_cut[unit]), False))

    columns: dict[str, list[np.ndarray]] = {"unit": [], "ts": [], "event": [], "revenue": [], "items": []}
    purchase, refund = EVENTS.index("purchase"), EVENTS.index("refund")
    amount_lift = np.array([AMOUNT_LIFT[v] for v in VARIANTS])
    for unit, ts, event, post in parts:
        amount = basket[unit] * rng.lognormal(AMOUNT_MU, AMOUNT_SIGMA, len(unit))
        if post:
            amount *= amount_lift[variant[unit]]
        revenue = np.where(event == purchase, amount, np.where(event == refund, -amount, 0.0)).round(2)
        items = np.where(event == purchase, 1 + rng.poisson(basket[unit]), 0).astype(np.int32)
        for key, value in zip(columns, (unit, ts, event, revenue, items), strict=True):
            columns[key].append(value)
    merged = {k: np.concatenate(v) for k, v in columns.items()}
    order = np.argsort(merged["ts"], kind="stable")
    events = pa.Table.from_arrays(
        [
            pa.array(unit_ids[merged["unit"][order]]),
            pa.array(merged["ts"][order].view("datetime64[us]")),
            _dictionary(merged["event"][order], EVENTS),
            pa.array(merged["revenue"][order]),
            pa.array(merged["items"][order]),
        ],
        schema=EVENT_SCHEMA,
    )
    return exposures, events


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd")


def generate(root: Path, units: int, events: int) -> dict[str, Any]:
    """Write the data set under ``root`` (replacing it) and return its manifest."""
    if root.exists():
        shutil.rmtree(root)
    paths = Paths(root)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "events").mkdir(parents=True)
    (tmp / "sample" / "events").mkdir(parents=True)
    files = 10 * math.ceil(units / (10 * MAX_CHUNK_UNITS))
    bounds = np.linspace(0, units, files + 1).astype(np.int64)
    per_unit = events / units
    start = time.perf_counter()
    rows = 0
    with pq.ParquetWriter(tmp / "exposures.parquet", EXPOSURE_SCHEMA, compression="zstd") as exp_writer:
        sample_exposures = []
        for i in range(files):
            rng = np.random.default_rng([SEED, units, events, i])
            exposures, chunk = generate_chunk(rng, int(bounds[i]) + 1, int(bounds[i + 1] - bounds[i]), per_unit)
            exp_writer.write_table(exposures, row_group_size=ROW_GROUP)
            name = f"part-{i:05d}.parquet"
            _write(chunk, tmp / "events" / name)
            if i < files // 10:
                sample_exposures.append(exposures)
                shutil.copyfile(tmp / "events" / name, tmp / "sample" / "events" / name)
            rows += chunk.num_rows
            progress(f"data: file {i + 1}/{files}, {rows:,} events so far ({time.perf_counter() - start:.0f} s)")
            del chunk, exposures
    _write(pa.concat_tables(sample_exposures), tmp / "sample" / "exposures.parquet")
    seconds = time.perf_counter() - start
    manifest = {
        "units": units,
        "events_requested": events,
        "events": rows,
        "sample_units": int(bounds[files // 10]),
        "sample_events": sum(pq.ParquetFile(f).metadata.num_rows for f in (tmp / "sample" / "events").iterdir()),
        "files": files,
        "seed": SEED,
        "version": DATA_VERSION,
        "generation_seconds": seconds,
        "bytes": _size(tmp) - _size(tmp / "sample"),
        "sample_bytes": _size(tmp / "sample"),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.rename(root)
    assert paths.exposures.exists()
    return manifest


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def ensure_data(units: int, events: int, regenerate: bool) -> tuple[Paths, dict[str, Any]]:
    root = WORK / f"v{DATA_VERSION}-u{units}-e{events}"
    manifest_path = root / "manifest.json"
    if not regenerate and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["cached"] = True
        progress(f"data: cached in {root} ({manifest['bytes'] / GB:.2f} GiB); --regenerate rebuilds it")
        return Paths(root), manifest
    progress(f"data: generating {units:,} units and ~{events:,} events in {root}")
    manifest = generate(root, units, events)
    manifest["cached"] = False
    progress(
        f"data: {manifest['events']:,} events, {manifest['bytes'] / GB:.2f} GiB of Parquet "
        f"in {manifest['generation_seconds']:.0f} s"
    )
    return Paths(root), manifest


def warm_page_cache(root: Path) -> None:
    """Read every file once so no approach pays for the first read from disk."""
    for f in sorted(root.rglob("*.parquet")):
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass


# -- (b) the floor -----------------------------------------------------------------------------------
def run_floor(paths: Paths) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    rows = con.sql(
        "SELECT event, count(*) AS n, sum(revenue) AS revenue, sum(items) AS items "
        f"FROM read_parquet('{paths.events_glob}') GROUP BY event"
    ).fetchall()
    con.close()
    return {"events": {r[0]: r[1] for r in rows}}


# -- (d) one hand-written DuckDB query + assay's stats core --------------------------------------------
PER_UNIT = {  # per-unit column → DuckDB aggregate over the joined events of the unit's pre-period and window
    "purchases": "count_if(post AND e.event = 'purchase')",
    "carts": "count_if(post AND e.event = 'add_to_cart')",
    "refunds": "count_if(post AND e.event = 'refund')",
    "sessions": "count_if(post AND e.event = 'session')",
    "views": "count_if(post AND e.event = 'view')",
    "revenue": "sum(e.revenue) FILTER (WHERE post)",
    "items": "sum(e.items) FILTER (WHERE post)",
    "pre_revenue": "sum(e.revenue) FILTER (WHERE NOT post)",
    "pre_items": "sum(e.items) FILTER (WHERE NOT post)",
    "pre_sessions": "count_if(NOT post AND e.event = 'session')",
}
DERIVED = {"converted": "purchases > 0", "carted": "carts > 0", "refunded": "refunds > 0"}


def _needed_sums() -> list[tuple[str, str | None]]:
    """(a, b) pairs whose Σa·b (b None: Σa) the 10 metrics need."""
    terms: list[tuple[str, str | None]] = []
    for m in METRICS:
        cols = [m.value] + ([m.den] if m.den else []) + ([m.covariate] if m.covariate else [])
        terms += [(c, None) for c in cols] + [(a, b) for i, a in enumerate(cols) for b in cols[i:]]
    return list(dict.fromkeys(terms))


def _sum_name(a: str, b: str | None) -> str:
    return f"s_{a}" if b is None else f"s_{a}__{b}"


def handwritten_sql(paths: Paths) -> str:
    per_unit = ",\n        ".join(f"coalesce({expr}, 0) AS {name}" for name, expr in PER_UNIT.items())
    unit_cols = ", ".join(f"coalesce(p.{c}, 0)::DOUBLE AS {c}" for c in PER_UNIT)
    derived = ", ".join(f"({expr})::DOUBLE AS {name}" for name, expr in DERIVED.items())
    sums = ",\n    ".join(f"sum({a}{'' if b is None else ' * ' + b}) AS {_sum_name(a, b)}" for a, b in _needed_sums())
    return f"""
WITH x AS (SELECT unit_id, variant, first_exposure FROM read_parquet('{paths.exposures}')),
per_unit AS (
    SELECT e.unit_id,
        {per_unit}
    FROM (
        SELECT e.*, e.ts >= x.first_exposure AS post
        FROM read_parquet('{paths.events_glob}') e JOIN x ON e.unit_id = x.unit_id
        WHERE e.ts >= x.first_exposure - INTERVAL {PRE_DAYS} DAY
          AND e.ts < x.first_exposure + INTERVAL {WINDOW_DAYS} DAY
    ) e
    GROUP BY e.unit_id
),
u AS (SELECT x.variant, {unit_cols} FROM x LEFT JOIN per_unit p ON x.unit_id = p.unit_id),
v AS (SELECT *, {derived} FROM u)
SELECT variant, count(*) AS n,
    {sums}
FROM v GROUP BY variant ORDER BY variant
"""


def run_duckdb_sql(paths: Paths) -> dict[str, Any]:
    import duckdb

    from assay.experiments import stats

    con = duckdb.connect()
    table = con.sql(handwritten_sql(paths)).to_arrow_table()
    con.close()
    arms = {row["variant"]: row for row in table.to_pylist()}
    means: dict[str, dict[str, float]] = {}
    tests: dict[str, dict[str, dict[str, float]]] = {}
    for m in METRICS:

        def suff(arm: dict[str, Any], m: Spec = m) -> Any:
            s = lambda a, b=None: arm[_sum_name(a, b)]  # noqa: E731
            n = arm["n"]
            if m.kind == "ratio":
                return stats.RatioStats(
                    n, s(m.value), s(m.value, m.value), s(m.den), s(m.den, m.den), s(m.value, m.den)
                )
            if m.covariate:
                y, x = m.value, m.covariate
                return stats.CupedStats(n, s(y), s(y, y), s(x), s(x, x), s(y, x))
            return stats.MeanStats(n, s(m.value), s(m.value, m.value))

        control = suff(arms["control"])
        test = stats.ratio_ttest if m.kind == "ratio" else stats.cuped_ttest if m.covariate else stats.ttest
        means[m.name] = {}
        tests[m.name] = {}
        for variant in VARIANTS:
            st = suff(arms[variant])
            means[m.name][variant] = st.ratio if m.kind == "ratio" else st.mean
            if variant != "control":
                r = test(control, st, relative=True)
                tests[m.name][variant] = {"lift": r.estimate, "p_value": r.p_value}
    return {"means": means, "tests": tests, "n": {v: arms[v]["n"] for v in VARIANTS}}


# -- (c) pandas + scipy ---------------------------------------------------------------------------------
def run_pandas(paths: Paths) -> dict[str, Any]:
    import pandas as pd
    from scipy import stats as sps

    exposures = pd.read_parquet(paths.exposures, columns=["unit_id", "variant", "first_exposure"])
    events = pd.read_parquet(paths.events_dir, columns=["unit_id", "ts", "event", "revenue", "items"])
    df = events.merge(exposures, on="unit_id", how="inner")
    del events
    since = df["ts"] - df["first_exposure"]
    post = df[(since >= pd.Timedelta(0)) & (since < pd.Timedelta(days=WINDOW_DAYS))]
    pre = df[(since < pd.Timedelta(0)) & (since >= -pd.Timedelta(days=PRE_DAYS))]
    del df, since

    counts = post.groupby(["unit_id", "event"], observed=True).size().unstack(fill_value=0)
    counts.columns = counts.columns.astype(str)
    counts = counts.rename(
        columns={"view": "views", "session": "sessions", "add_to_cart": "carts", "purchase": "purchases"}
    ).rename(columns={"refund": "refunds"})
    sums = post.groupby("unit_id")[["revenue", "items"]].sum()
    pre_sums = pre.groupby("unit_id")[["revenue", "items"]].sum().add_prefix("pre_")
    pre_sessions = pre[pre["event"] == "session"].groupby("unit_id").size().rename("pre_sessions")
    del post, pre
    units = exposures.set_index("unit_id")[["variant"]].join([counts, sums, pre_sums, pre_sessions.to_frame()])
    units = units.fillna(0)
    units["variant"] = units["variant"].astype(str)
    units["converted"] = (units["purchases"] > 0).astype(float)
    units["carted"] = (units["carts"] > 0).astype(float)
    units["refunded"] = (units["refunds"] > 0).astype(float)
    for m in METRICS:  # CUPED: y − θ(x − x̄), θ the OLS slope of y on x over all units (Deng et al. 2013)
        if m.covariate:
            x, y = units[m.covariate], units[m.value]
            theta = np.cov(y, x)[0, 1] / x.var()
            units[f"{m.value}_cuped"] = y - theta * (x - x.mean())

    groups = dict(tuple(units.groupby("variant")))
    means: dict[str, dict[str, float]] = {}
    tests: dict[str, dict[str, dict[str, float]]] = {}
    for m in METRICS:
        means[m.name], tests[m.name] = {}, {}
        for variant in VARIANTS:
            g = groups[variant]
            if m.kind == "ratio":
                means[m.name][variant] = g[m.value].sum() / g[m.den].sum()
            else:
                means[m.name][variant] = g[m.value].mean()
        for variant in VARIANTS[1:]:
            c, t = groups["control"], groups[variant]
            if m.kind == "ratio":
                est, se = _delta_ratio(t[m.value], t[m.den], c[m.value], c[m.den])
                p, low, high = 2 * sps.norm.sf(abs(est) / se), est - 1.96 * se, est + 1.96 * se
                lift = est / means[m.name]["control"]
            else:
                column = f"{m.value}_cuped" if m.covariate else m.value
                res = sps.ttest_ind(t[column], c[column], equal_var=False)
                ci = res.confidence_interval()
                p, low, high = res.pvalue, ci.low, ci.high
                lift = (t[column].mean() - c[column].mean()) / c[column].mean()
            tests[m.name][variant] = {"lift": float(lift), "p_value": float(p), "ci_low": low, "ci_high": high}
    return {"means": means, "tests": tests, "n": {v: len(groups[v]) for v in VARIANTS}}


def _delta_ratio(num_t: Any, den_t: Any, num_c: Any, den_c: Any) -> tuple[float, float]:
    """Difference of two ratios of means and its delta-method standard error (Deng et al. 2018)."""
    parts = []
    for num, den in ((num_t, den_t), (num_c, den_c)):
        n, mn, md = len(num), num.mean(), den.mean()
        r = mn / md
        var = (num.var() - 2 * r * np.cov(num, den)[0, 1] + r * r * den.var()) / (n * md * md)
        parts.append((r, var))
    (rt, vt), (rc, vc) = parts
    return rt - rc, math.sqrt(vt + vc)


# -- (a) assay --------------------------------------------------------------------------------------------
def assay_available() -> bool:
    try:
        spec = importlib.util.find_spec("assay.experiments")
        if spec is None:
            return False
        import assay.experiments as ex
    except ImportError:
        return False
    return all(hasattr(ex, name) for name in ("Metric", "Experiment", "analyze"))


def assay_definitions() -> tuple[Any, Any]:
    """The 10 metrics as an assay ``MetricCatalog`` and the experiment that uses them."""
    from assay.experiments import Experiment, Metric, MetricCatalog

    on = {"source": "events", "timestamp_column": "ts", "window": {"start": "0d", "end": f"{WINDOW_DAYS}d"}}
    plain = {**on, "cuped": False}  # CUPED only where asked for: revenue, items and sessions per unit

    def is_(event: str) -> str:
        return f"event = '{event}'"

    def count(event: str) -> dict[str, Any]:
        return {"value": "1", "filter": is_(event), "aggregation": "count"}

    catalog = MetricCatalog(
        [
            Metric("purchases_per_unit", **count("purchase"), **plain),
            Metric("conversion", kind="proportion", filter=is_("purchase"), **plain),
            Metric("revenue_per_unit", value="revenue", **on),
            Metric("items_per_unit", value="items", **on),
            Metric("sessions_per_unit", **count("session"), **on),
            Metric("add_to_cart_rate", kind="proportion", filter=is_("add_to_cart"), **plain),
            Metric("refund_rate", kind="proportion", filter=is_("refund"), direction="decrease", **plain),
            Metric("views_per_unit", **count("view"), **plain),
            Metric("revenue_per_purchase", kind="ratio", numerator="revenue", denominator=is_("purchase"), **plain),
            Metric("items_per_session", kind="ratio", numerator="items", denominator=is_("session"), **plain),
        ]
    )
    experiment = Experiment(
        "bench-checkout-abc",
        exposures={"source": "exposures", "unit_column": "unit_id", "timestamp_column": "first_exposure"},
        variants=VARIANTS,
        weights=(1, 1, 1),
        primary_metric="conversion",
        secondary_metrics=[m.name for m in METRICS if m.name not in ("conversion", "refund_rate")],
        guardrail_metrics=["refund_rate"],
        cuped={"pre_period": f"{PRE_DAYS}d"},
    )
    return catalog, experiment


def run_assay(paths: Paths) -> dict[str, Any]:
    from assay.experiments import analyze

    catalog, experiment = assay_definitions()
    result = analyze(
        experiment, catalog=catalog, sources={"exposures": str(paths.exposures), "events": paths.events_glob}
    )
    summary = result.summary()
    means: dict[str, dict[str, float]] = {}
    tests: dict[str, dict[str, dict[str, float]]] = {}
    for r in result.results:
        if r.slice is not None:
            continue
        for variant, st in ((r.control, r.control_stats), (r.variant, r.treatment_stats)):
            means.setdefault(r.metric, {})[variant] = st.ratio if hasattr(st, "ratio") else st.mean
        tests.setdefault(r.metric, {})[r.variant] = {"lift": r.estimate, "p_value": r.p_value}
    return {
        "means": means,
        "tests": tests,
        "n": dict(result.counts),
        "summary": summary,
        "timings": dict(result.timings),
        "sql": result.sql,
    }


APPROACHES: dict[str, Callable[[Paths], dict[str, Any]]] = {
    "floor": run_floor,
    "duckdb_sql": run_duckdb_sql,
    "pandas": run_pandas,
    "assay": run_assay,
}


IMPORTS = {
    "floor": ("duckdb",),
    "duckdb_sql": ("duckdb", "assay.experiments.stats"),
    "pandas": ("pandas", "scipy.stats"),
    "assay": ("assay.experiments",),
}


# -- subprocess harness -----------------------------------------------------------------------------------
def worker(name: str, root: Path) -> int:
    """Run one approach once in this (fresh) process; print wall time, peak RSS and the result as JSON."""
    paths = Paths(root)
    fn = APPROACHES[name]
    for module in IMPORTS[name]:  # imports are not part of the timed analysis
        importlib.import_module(module)
    base = _status_bytes("VmRSS")
    start = time.perf_counter()
    result = fn(paths)
    seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "base_rss": base, "result": result}, default=float))
    return 0


def _status_bytes(field: str) -> int:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of this process from ``/proc/self/status``.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries the parent's peak over ``fork`` + ``exec``, so a
    child of a benchmark that has just generated gigabytes of data would report the parent's peak.
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (the benchmark measures memory on Linux only)")


def measure(name: str, paths: Paths) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", str(paths.root)]
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} on {paths.root} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load_before": load}


def _mem_available() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _fmt_bytes(n: float | None) -> str:
    return "—" if n is None else f"{n / GB:.2f} GiB" if n >= GB / 4 else f"{n / 1024**2:.0f} MiB"


def compare_means(a: dict[str, Any], b: dict[str, Any], metrics: tuple[str, ...], tol: float = 1e-6) -> list[str]:
    """Disagreements between two results' per-variant means (relative tolerance ``tol``)."""
    problems = []
    for metric in metrics:
        for variant in VARIANTS:
            x, y = a["means"].get(metric, {}).get(variant), b["means"].get(metric, {}).get(variant)
            if x is None or y is None or not math.isclose(x, y, rel_tol=tol, abs_tol=1e-12):
                problems.append(f"{metric}/{variant}: {x} vs {y}")
    return problems


# -- main -------------------------------------------------------------------------------------------------
@dataclass
class Line:
    approach: str
    data: str
    seconds: float | None
    peak: float | None
    note: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10× smaller: 1M units, 10M events")
    parser.add_argument(
        "--units", type=lambda s: int(s.replace("_", "")), default=10_000_000, help="exposed units (10_000_000)"
    )
    parser.add_argument(
        "--events", type=lambda s: int(s.replace("_", "")), default=100_000_000, help="events, about (100_000_000)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each approach; default 3")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached data")
    parser.add_argument(
        "--pandas",
        choices=("auto", "sample", "full"),
        default="auto",
        help="pandas on the full data: auto (if the sample's peak × 10 fits in half the free memory), never, always",
    )
    parser.add_argument("--out", type=Path, help="write raw timings and the table as JSON to this file")
    parser.add_argument("--worker", choices=tuple(APPROACHES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.data)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    units, events = (args.units // 10, args.events // 10) if args.quick else (args.units, args.events)
    if units < 100 or events < units:
        parser.error("need at least 100 units and as many events as units")

    import duckdb
    import pandas as pd

    import assay

    info = machine_info(assay=assay.__version__, duckdb=duckdb.__version__, pandas=pd.__version__)
    progress(f"assay {info['assay']}, DuckDB {info['duckdb']}, pandas {info['pandas']} on {info['cpus']} CPUs")
    progress(f"load average {info['load_average']}, {_mem_available() / GB:.1f} GiB available")
    paths, manifest = ensure_data(units, events, args.regenerate)
    warm_page_cache(paths.root)
    have_assay = assay_available()
    if not have_assay:
        progress("assay.experiments has no analyze() yet: skipping (a)")

    full_plan = ["floor", *(["assay"] if have_assay else []), "duckdb_sql"]
    sample_plan = ["pandas", *(["assay"] if have_assay else [])]
    raw: dict[str, list[dict[str, Any]]] = {}

    def run(name: str, where: Paths, key: str, rep: int) -> None:
        out = measure(name, where)
        raw.setdefault(key, []).append(out)
        progress(
            f"{key} {rep + 1}/{args.repeats}: {fmt_time(out['seconds'])}, peak {_fmt_bytes(out['peak_rss'])} "
            f"(load average before: {out['load_before']:.2f})"
        )

    for rep in range(args.repeats):
        for name in full_plan:
            run(name, paths, name, rep)
        for name in sample_plan:
            run(name, paths.sample, f"{name}_sample", rep)

    scale = manifest["events"] / manifest["sample_events"]
    # memory above what the interpreter and its imports hold grows with the data; the imports do not
    sample_peak = median([r["peak_rss"] for r in raw["pandas_sample"]])
    sample_base = median([r["base_rss"] for r in raw["pandas_sample"]])
    est_peak = sample_base + (sample_peak - sample_base) * scale
    available = _mem_available()
    pandas_full = args.pandas == "full" or (args.pandas == "auto" and est_peak < available / 2)
    progress(
        f"pandas: sample peak {_fmt_bytes(sample_peak)} (imports {_fmt_bytes(sample_base)}), scaled × {scale:.1f} "
        f"≈ {_fmt_bytes(est_peak)} "
        f"vs {_fmt_bytes(available)} available → {'full data' if pandas_full else 'sample only, time × scale'}"
    )
    if pandas_full:
        for rep in range(args.repeats):
            run("pandas", paths, "pandas", rep)

    # correctness: the per-variant means of all 10 metrics agree between every pair that saw the same data
    pairs = [
        ("assay_sample", "pandas_sample", "assay vs pandas, sample"),
        ("assay", "duckdb_sql", "assay vs hand-written SQL, full"),
    ]
    if pandas_full:
        pairs += [
            ("assay", "pandas", "assay vs pandas, full"),
            ("pandas", "duckdb_sql", "pandas vs hand-written SQL, full"),
        ]
    checks: dict[str, list[str]] = {
        label: compare_means(raw[a][0]["result"], raw[b][0]["result"], tuple(m.name for m in METRICS))
        for a, b, label in pairs
        if a in raw and b in raw
    }
    for label, problems in checks.items():
        progress(f"check {label}: {'agree' if not problems else 'DISAGREE: ' + '; '.join(problems[:5])}")

    def med(key: str, field: str = "seconds") -> float | None:
        return median([r[field] for r in raw[key]]) if key in raw else None

    floor = med("floor")
    ours = med("assay")
    lines = [
        Line("(b) floor: DuckDB `GROUP BY event` scan of the events", "full", floor, med("floor", "peak_rss")),
        Line("(a) assay `analyze()` end to end", "full", ours, med("assay", "peak_rss"))
        if have_assay
        else Line("(a) assay `analyze()` end to end", "full", None, None, "not available yet"),
        Line(
            "(d) extra: one hand-written DuckDB query + assay stats",
            "full",
            med("duckdb_sql"),
            med("duckdb_sql", "peak_rss"),
        ),
    ]
    if pandas_full:
        pandas_time = med("pandas")
        lines.append(Line("(c) pandas + scipy", "full", pandas_time, med("pandas", "peak_rss")))
    else:
        pandas_time = med("pandas_sample") * scale
        lines.append(
            Line(
                f"(c) pandas + scipy, **extrapolated** (sample × {scale:.1f})",
                "full (est.)",
                pandas_time,
                est_peak,
                "time and memory above the imports scaled linearly from the sample",
            )
        )
    lines.append(Line("(c) pandas + scipy", "sample", med("pandas_sample"), sample_peak))
    if have_assay:
        lines.append(Line("(a) assay `analyze()`", "sample", med("assay_sample"), med("assay_sample", "peak_rss")))

    def ratio(x: float | None, y: float | None) -> str:
        return "—" if x is None or not y else f"{x / y:,.3g}×" if x / y < 1000 else f"{x / y:,.0f}×"

    loads = [r["load_before"] for runs in raw.values() for r in runs]
    sample_desc = f"{manifest['sample_units']:,} units, {manifest['sample_events']:,} events"
    mode = "quick" if args.quick else "full" if (units, events) == (10_000_000, 100_000_000) else "custom"
    print(
        f"\nassay {info['assay']}, DuckDB {info['duckdb']}, pandas {info['pandas']}, Python {info['python']}, "
        f"{info['cpus']} CPUs, load average at start {', '.join(f'{x:.2f}' for x in info['load_average'])}; "
        f"{mode}: {units:,} units, {manifest['events']:,} events ({manifest['bytes'] / GB:.2f} GiB Parquet, "
        f"{manifest['files']} files; generated in {manifest['generation_seconds']:.0f} s"
        f"{', cached' if manifest.get('cached') else ''}); sample: {sample_desc}; "
        f"medians of {args.repeats} repeats, each in a fresh process; 1-minute load average before the "
        f"measurements {min(loads):.2f}–{max(loads):.2f}\n"
    )
    if have_assay:
        print("assay's summary (full data):\n")
        print(raw["assay"][0]["result"].get("summary", "(no summary)"))
        print()
    print("| approach | data | median time | peak memory (RSS) | ratio vs floor | ratio vs assay |")
    print("|---|---|---|---|---|---|")
    for line in lines:
        same_data_assay = ours if line.data.startswith("full") else med("assay_sample")
        note = f" ({line.note})" if line.note else ""
        print(
            f"| {line.approach}{note} | {line.data} | {fmt_time(line.seconds)} | {_fmt_bytes(line.peak)} | "
            f"{ratio(line.seconds, floor) if line.data.startswith('full') else '—'} | "
            f"{ratio(line.seconds, same_data_assay)} |"
        )
    print()
    targets = []
    if have_assay:
        pandas_sample_ratio = med("pandas_sample") / med("assay_sample")
        targets = [
            ("assay ≤ 2× the floor", f"{ours / floor:.2f}×", ours <= 2 * floor),
            (
                "assay ≥ 10× faster than pandas",
                f"{pandas_time / ours:.1f}× ({'measured' if pandas_full else 'extrapolated'} full); "
                f"{pandas_sample_ratio:.1f}× on the sample",
                pandas_time / ours >= 10,
            ),
            ("assay peak memory ≤ 4 GB", _fmt_bytes(med("assay", "peak_rss")), med("assay", "peak_rss") <= 4e9),
        ]
        print("| target | measured | met? |\n|---|---|---|")
        for label, value, met in targets:
            print(f"| {label} | {value} | {'yes' if met else '**no**'} |")
        print()
    for label, problems in checks.items():
        verdict = "agree (relative tolerance 1e-6)" if not problems else f"**DISAGREE**: {'; '.join(problems[:3])}"
        print(f"- check, per-variant means of all 10 metrics, {label}: {verdict}")
    if args.out:
        payload = {
            "machine": {**info, "load_average_end": os.getloadavg()},
            "mode": mode,
            "data": manifest,
            "true_lifts": true_lifts(),
            "repeats": args.repeats,
            "pandas_full": pandas_full,
            "rows": [{**line.__dict__} for line in lines],
            "targets": [{"target": t, "measured": v, "met": m} for t, v, m in targets],
            "checks": checks,
            "raw": raw,
        }
        write_json(args.out, payload)
        progress(f"raw timings written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
