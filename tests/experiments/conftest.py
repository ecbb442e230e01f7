"""Experiment-analysis fixtures: a small synthetic company with known lifts, and one engine per backend.

``make_experiment_data`` writes exposures (with a few units exposed to two variants and a few carrying an
unknown label), events (views and purchases, before and after exposure, with a true lift in treatment)
and orders. Amounts are multiples of 0.5 so every sum and sum of squares is exact in floating point,
whatever order an engine adds in: the backends must then agree to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.engine import Engine

START = pd.Timestamp("2024-03-01")

EXPERIMENT_YAML = """
name: checkout-v2
description: One-page checkout
exposures:
  source: exposures
  unit_column: user_id
  variant_column: variant
  timestamp_column: exposed_at
variants: [control, treatment]
weights: [0.5, 0.5]
primary_metric: conversion
secondary_metrics: [revenue, purchases, revenue_per_order, max_order]
guardrail_metrics: [views]
dimensions: [country]
cuped: {pre_period: 14d}
alpha: 0.05
method: fixed
multiple_testing: holm
models: {treatment: "models:/checkout-ranker/3"}
metrics:
  conversion:
    kind: proportion
    source: events
    timestamp_column: ts
    filter: event = 'purchase'
    window: {start: 0d, end: 14d}
  revenue:
    source: events
    timestamp_column: ts
    value: amount
    window: {end: 14d}
  purchases:
    source: events
    timestamp_column: ts
    value: event = 'purchase'
    window: {end: 7d}
    cuped: false
  views:
    source: events
    timestamp_column: ts
    value: CASE WHEN event = 'view' THEN 1 ELSE 0 END
    window: {end: 14d}
    margin: 0.05
  revenue_per_order:
    kind: ratio
    source: orders
    timestamp_column: created_at
    numerator: amount
    denominator: "1"
    window: {end: 14d}
  max_order:
    source: orders
    timestamp_column: created_at
    value: amount
    aggregation: max
    window: {start: 1h, end: 2w}
    cuped: false
"""


@dataclass(frozen=True)
class ExperimentData:
    """Frames of the synthetic experiment and the Parquet files written from them."""

    exposures: pd.DataFrame
    events: pd.DataFrame
    orders: pd.DataFrame
    folder: Path | None = None

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        return {"exposures": self.exposures, "events": self.events, "orders": self.orders}

    @property
    def files(self) -> dict[str, Path]:
        assert self.folder is not None
        return {name: self.folder / f"{name}.parquet" for name in self.frames}


def _seconds(values: np.ndarray) -> pd.TimedeltaIndex:
    return pd.to_timedelta(values, unit="s")


def make_experiment_data(
    n_units: int = 2000,
    *,
    seed: int = 11,
    variants: tuple[str, ...] = ("control", "treatment"),
    lifts: dict[str, float] | None = None,
    multi_units: int = 12,
    unknown_units: int = 8,
    folder: Path | None = None,
) -> ExperimentData:
    """Exposures, events and orders; treatment variants buy ``1 + lift`` times as often as control."""
    rng = np.random.default_rng(seed)
    lifts = {"treatment": 0.25} if lifts is None else lifts
    users = np.arange(1, n_units + 1, dtype="int64")
    variant = rng.choice(np.asarray(variants), n_units)
    exposed = START + _seconds(rng.integers(0, 7 * 86400, n_units))
    country = rng.choice(["DE", "FR", "US"], n_units, p=[0.4, 0.3, 0.3])
    activity = rng.gamma(2.0, 0.6, n_units)  # unit propensity: correlates pre- and post-exposure behaviour

    exposures = pd.DataFrame({"user_id": users, "variant": variant, "exposed_at": exposed, "country": country})
    again = exposures.sample(frac=0.3, random_state=seed).assign(
        exposed_at=lambda d: d["exposed_at"] + _seconds(rng.integers(60, 3 * 86400, len(d)))
    )
    other = exposures.iloc[:multi_units].copy()  # exposed to a second variant later: excluded
    other["variant"] = [variants[(list(variants).index(v) + 1) % len(variants)] for v in other["variant"]]
    other["exposed_at"] = other["exposed_at"] + pd.Timedelta(hours=5)
    exposures = pd.concat([exposures, again, other], ignore_index=True)
    unknown = exposures["user_id"].isin(users[multi_units : multi_units + unknown_units])
    exposures.loc[unknown, "variant"] = "treatmnt"  # a typo in the logging: unknown label
    exposures = exposures.sample(frac=1.0, random_state=seed + 1).reset_index(drop=True)

    lift = np.asarray([lifts.get(str(v), 0.0) for v in variant])
    blocks = []
    for lo, hi, rate in ((-28, 0, np.ones(n_units)), (0, 28, 1.0 + lift)):
        k = rng.poisson(activity * 3 * rate)
        idx = np.repeat(np.arange(n_units), k)
        buy = rng.random(idx.size) < 0.2 * rate[idx]
        amount = np.where(buy, np.round(rng.gamma(2.0, 12.0, idx.size) * 2) / 2, 0.0)
        at = exposed[idx] + _seconds(rng.integers(lo * 86400, hi * 86400, idx.size))
        blocks.append(pd.DataFrame({"user_id": users[idx], "ts": at, "event": np.where(buy, "purchase", "view"),
                                    "amount": amount}))  # fmt: skip
    # events of units never exposed: they must not count anywhere
    stray = pd.DataFrame({"user_id": np.arange(n_units + 1, n_units + 21, dtype="int64"),
                          "ts": START + _seconds(rng.integers(0, 86400, 20)), "event": "purchase",
                          "amount": 10.0})  # fmt: skip
    events = pd.concat([*blocks, stray], ignore_index=True)
    events["user_id"] = events["user_id"].astype("int64")
    orders = events[events["event"] == "purchase"][["user_id", "ts", "amount"]].rename(columns={"ts": "created_at"})
    orders = orders.reset_index(drop=True)
    for frame, col in ((exposures, "exposed_at"), (events, "ts"), (orders, "created_at")):
        frame[col] = frame[col].astype("datetime64[us]")
    data = ExperimentData(exposures, events, orders, folder)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in data.frames.items():
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{name}.parquet")
    return data


@pytest.fixture(scope="session")
def exp_data(tmp_path_factory: pytest.TempPathFactory) -> ExperimentData:
    """The default synthetic experiment, as DataFrames and as Parquet files."""
    return make_experiment_data(folder=tmp_path_factory.mktemp("experiment-data"))


@pytest.fixture(scope="module")
def any_engine(backend_engine: Engine) -> Engine:
    """The module's engine, one per backend (see ``backend_engine`` in tests/conftest.py)."""
    return backend_engine
