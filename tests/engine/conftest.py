"""Engine fixtures: sample files written once per module, and one engine per backend per module.

DuckDB always runs; PostgreSQL when ``ASSAY_TEST_POSTGRES_URL`` is set (each module in a schema of
its own, dropped afterwards); Spark (marked slow) when pyspark and Java are available — one
SparkSession per process, so its start-up is paid once.
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


@dataclass(frozen=True)
class SampleData:
    """Paths of the sample files and the frames they were written from (the expected answers)."""

    orders: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame
    orders_parquet: Path
    events_folder: Path
    customers_csv: Path
    corrupt_parquet: Path


def make_sample_data(root: Path) -> SampleData:
    rng = np.random.default_rng(7)
    n = 600
    orders = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype="int64"),
            "customer_id": rng.integers(1, 41, n).astype("int64"),
            "status": rng.choice(["new", "paid", "shipped", "refunded"], n),
            "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
            "created_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 24, n), unit="h"),
        }
    )
    orders.loc[::50, "amount"] = np.nan  # some nulls
    orders["created_at"] = orders["created_at"].astype("datetime64[us]")
    orders_parquet = root / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(orders, preserve_index=False), orders_parquet)

    events = pd.DataFrame(
        {
            "user_id": rng.integers(1, 101, 400).astype("int64"),
            "variant": rng.choice(["control", "treatment"], 400),
            "value": rng.normal(10, 2, 400),
            "month": np.repeat([1, 2], 200).astype("int64"),
        }
    )
    events_folder = root / "events"
    for month, part in events.groupby("month"):
        folder = events_folder / f"month={month}"
        folder.mkdir(parents=True)
        pq.write_table(
            pa.Table.from_pandas(part.drop(columns="month"), preserve_index=False), folder / "part-0.parquet"
        )

    customers = pd.DataFrame(
        {"id": np.arange(1, 41), "name": [f"Doe, Jane {i}" for i in range(1, 41)], "country": ["DE", "FR"] * 20}
    )
    customers_csv = root / "customers.csv"
    customers.to_csv(customers_csv, index=False)

    corrupt = root / "corrupt.parquet"
    data = orders_parquet.read_bytes()
    corrupt.write_bytes(data[: len(data) // 2] + b"\x00" * 64 + b"PAR1")
    return SampleData(orders, events, customers, orders_parquet, events_folder, customers_csv, corrupt)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleData:
    """Sample Parquet file, hive-partitioned Parquet folder, CSV and a corrupt Parquet file."""
    return make_sample_data(tmp_path_factory.mktemp("engine-data"))


@pytest.fixture(scope="module")
def engine(backend_engine: Engine) -> Engine:
    """The module's engine, one per backend (see ``backend_engine`` in tests/conftest.py)."""
    return backend_engine


@pytest.fixture(scope="module")
def loaded(engine: Engine, sample: SampleData) -> Engine:
    """The module's engine with the sample sources registered: orders, events, customers."""
    engine.register("orders", sample.orders_parquet)
    engine.register("events", sample.events_folder)
    engine.register("customers", sample.customers_csv)
    return engine
