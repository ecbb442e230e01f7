"""The same behaviour on every backend: DuckDB always, PostgreSQL and Spark when available."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assay.engine import Engine
from assay.errors import InvalidInputError

SampleData = Any  # tests/engine/conftest.py:SampleData (conftest modules are not importable)

ORDER_COLUMNS = ["id", "customer_id", "status", "amount", "created_at"]


def test_register_parquet_file(loaded: Engine, sample: SampleData) -> None:
    table = loaded.sql("select count(*) as n, count(amount) as n_amount, sum(amount)::DOUBLE as total from orders")
    assert isinstance(table, pa.Table)
    row = table.to_pylist()[0]
    assert row["n"] == len(sample.orders)
    assert row["n_amount"] == sample.orders["amount"].notna().sum()
    assert row["total"] == pytest.approx(sample.orders["amount"].sum())


def test_register_parquet_folder_exposes_hive_partitions(loaded: Engine, sample: SampleData) -> None:
    rows = loaded.sql("select month, count(*) as n, avg(value) as mean from events group by month order by month")
    expected = sample.events.groupby("month")["value"].agg(["count", "mean"])
    assert [r["month"] for r in rows.to_pylist()] == [1, 2]
    assert [r["n"] for r in rows.to_pylist()] == expected["count"].tolist()
    assert [float(r["mean"]) for r in rows.to_pylist()] == pytest.approx(expected["mean"].tolist())


def test_register_csv(loaded: Engine, sample: SampleData) -> None:
    assert list(loaded.columns("customers")) == ["id", "name", "country"]
    rows = loaded.sql(
        "select country, count(*) as n, max(name) as last_name from customers group by country order by country"
    ).to_pylist()
    expected = sample.customers.groupby("country")["name"].agg(["count", "max"])
    assert [(r["country"], r["n"], r["last_name"]) for r in rows] == [
        (c, int(expected.loc[c, "count"]), expected.loc[c, "max"]) for c in expected.index
    ]


def test_register_dataframe_and_arrow_and_replace(engine: Engine) -> None:
    engine.register("df_src", pd.DataFrame({"k": ["a", "b", "a"], "v": [1.0, 2.0, 3.5]}))
    engine.register("arrow_src", pa.table({"k": ["a", "c"], "w": [10, 20]}))
    rows = engine.sql(
        "select d.k, sum(d.v)::DOUBLE as v, max(a.w) as w from df_src d left join arrow_src a on a.k = d.k "
        "group by d.k order by d.k"
    ).to_pylist()
    assert rows == [{"k": "a", "v": 4.5, "w": 10}, {"k": "b", "v": 2.0, "w": None}]
    engine.register("df_src", pa.table({"k": ["z"]}))  # same name: replaced
    assert engine.sql("select k from df_src").to_pylist() == [{"k": "z"}]


def test_unquoted_mixed_case_columns_resolve(engine: Engine) -> None:
    engine.register("mixed", pd.DataFrame({"UserId": [1, 2, 2], "Revenue": [1.5, 2.5, 3.0]}))
    assert engine.scalar("select count(distinct UserId) from mixed where Revenue > $r", {"r": 2}) == 1


def test_aggregates_group_by_count_distinct_conditional_sums_cte(loaded: Engine, sample: SampleData) -> None:
    sql = """
        with o as (select customer_id, status, amount from orders)
        select customer_id,
               count(*) as n,
               count(distinct status) as statuses,
               sum(case when status = 'refunded' then 1 else 0 end) as refunds,
               cast(sum(case when status = 'paid' then amount else 0 end) as double) as paid_amount,
               count(*) filter (where amount > 100) as big,
               count_if(amount > 100) as big_too
        from o
        group by all
        order by customer_id
    """
    got = loaded.sql(sql).to_pandas()
    df = sample.orders
    expected = (
        df.assign(
            refund=(df.status == "refunded").astype(int),
            paid=np.where(df.status == "paid", df.amount.fillna(0), 0.0),
            big=(df.amount > 100).astype(int),
        )
        .groupby("customer_id")
        .agg(n=("id", "size"), statuses=("status", "nunique"), refunds=("refund", "sum"),
             paid_amount=("paid", "sum"), big=("big", "sum"))
        .reset_index()
    )  # fmt: skip
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    for col in ["n", "statuses", "refunds", "big"]:
        assert got[col].astype(int).tolist() == expected[col].tolist(), col
    assert got["big_too"].astype(int).tolist() == expected["big"].tolist()
    assert got["paid_amount"].tolist() == pytest.approx(expected["paid_amount"].tolist())


def test_statistics_quantile_stddev(loaded: Engine, sample: SampleData) -> None:
    row = loaded.sql(
        "select quantile_cont(amount, 0.5) as med, quantile_disc(amount, 0.25) as q1, "
        "stddev_samp(amount) as sd, var_samp(amount) as var from orders"
    ).to_pylist()[0]
    amounts = sample.orders["amount"].dropna()
    assert float(row["med"]) == pytest.approx(amounts.median())
    assert float(row["q1"]) == pytest.approx(np.quantile(amounts, 0.25, method="inverted_cdf"))
    assert float(row["sd"]) == pytest.approx(amounts.std())
    assert float(row["var"]) == pytest.approx(amounts.var())


def test_params_are_bound(loaded: Engine, sample: SampleData) -> None:
    n = loaded.scalar(
        "select count(*) from orders where status = $status and amount >= $min_amount",
        {"status": "paid", "min_amount": 50},
    )
    df = sample.orders
    assert n == int(((df.status == "paid") & (df.amount >= 50)).sum())


@pytest.mark.parametrize("evil", ["paid' OR '1'='1", "x'; DROP TABLE orders; --", "100%' --"])
def test_param_injection_is_just_data(loaded: Engine, sample: SampleData, evil: str) -> None:
    assert loaded.scalar("select count(*) from orders where status = $s", {"s": evil}) == 0
    assert loaded.scalar("select $s as v", {"s": evil}) == evil
    assert loaded.scalar("select count(*) from orders") == len(sample.orders)


def test_param_mistakes_are_reported(loaded: Engine) -> None:
    with pytest.raises(InvalidInputError, match=r"no value for SQL parameter\(s\) \$status"):
        loaded.sql("select count(*) from orders where status = $status")
    with pytest.raises(InvalidInputError, match=r"typo.*not used"):
        loaded.sql("select count(*) from orders where status = $status", {"status": "paid", "typo": 1})


def test_scalar_and_empty_result(loaded: Engine) -> None:
    assert loaded.scalar("select max(id) from orders") == 600
    assert loaded.scalar("select id from orders where id < 0") is None
    empty = loaded.sql("select id, status from orders where id < 0")
    assert empty.num_rows == 0 and empty.column_names == ["id", "status"]


def test_columns_of_relation_and_select_without_running(loaded: Engine) -> None:
    cols = loaded.columns("orders")
    assert list(cols) == ORDER_COLUMNS
    assert all(isinstance(t, str) and t for t in cols.values())
    # planned only: casting every status to int would fail if a row were read
    assert list(loaded.columns("select status, cast(status as int) as broken from orders")) == ["status", "broken"]
    schema = loaded.schema("select id, amount, status from orders")
    assert schema.field("id").type == pa.int64()
    assert schema.field("amount").type == pa.float64()
    assert pa.types.is_string(schema.field("status").type) or pa.types.is_large_string(schema.field("status").type)


def test_md5_bucket_matches_python(loaded: Engine) -> None:
    sql = """
        select id, cast('0x' || substr(md5('exp-1' || ':' || cast(id as varchar)), 1, 8) as bigint) % 1000 as bucket
        from orders where id <= 25 order by id
    """
    got = {r["id"]: r["bucket"] for r in loaded.sql(sql).to_pylist()}
    expected = {i: int(hashlib.md5(f"exp-1:{i}".encode()).hexdigest()[:8], 16) % 1000 for i in range(1, 26)}
    assert got == expected


@pytest.mark.parametrize(
    ("unit", "start", "end", "expected"),
    [
        ("day", "2024-01-01 23:00:00", "2024-01-02 01:00:00", 1),  # calendar-day boundaries, not 24 h periods
        ("hour", "2024-01-01 10:59:00", "2024-01-01 11:01:00", 1),
        ("minute", "2024-01-01 10:59:59", "2024-01-01 11:00:01", 1),
        ("week", "2024-01-07 12:00:00", "2024-01-14 11:00:00", 1),  # DuckDB: day boundaries // 7
        ("week", "2024-01-07 12:00:00", "2024-01-08 01:00:00", 0),
        ("month", "2024-01-31 00:00:00", "2024-02-01 00:00:00", 1),
        ("year", "2024-12-31 23:00:00", "2025-01-01 01:00:00", 1),
        ("day", "2024-03-01 00:00:00", "2024-01-01 00:00:00", -60),
    ],
)
def test_date_diff_counts_like_duckdb(engine: Engine, unit: str, start: str, end: str, expected: int) -> None:
    sql = f"select date_diff('{unit}', timestamp '{start}', timestamp '{end}') as v"
    assert engine.scalar(sql) == expected


def test_epoch_and_concat(loaded: Engine) -> None:
    row = loaded.sql(
        "select epoch(timestamp '2024-01-02 00:00:00.5') as secs, 'a' || ':' || cast(7 as varchar) as joined"
    ).to_pylist()[0]
    assert float(row["secs"]) == 1704153600.5
    assert row["joined"] == "a:7"


def test_qualify_with_explicit_columns(loaded: Engine, sample: SampleData) -> None:
    rows = loaded.sql(
        "select customer_id, id from orders "
        "qualify row_number() over (partition by customer_id order by id) = 1 order by customer_id"
    ).to_pylist()
    expected = sample.orders.groupby("customer_id")["id"].min()
    assert [(r["customer_id"], r["id"]) for r in rows] == list(expected.items())


def test_missing_column_names_it_and_lists_available(loaded: Engine) -> None:
    with pytest.raises(InvalidInputError) as info:
        loaded.sql("select amont from orders")
    message = str(info.value)
    assert message.startswith("column 'amont' not found in 'orders'; available: " + ", ".join(ORDER_COLUMNS))
    assert "Did you mean 'amount'?" in message
    assert info.value.__cause__ is not None  # the engine's own exception is chained


def test_missing_table_lists_available(loaded: Engine) -> None:
    with pytest.raises(InvalidInputError, match=r"table 'ordrs' not found; available: .*orders.*Did you mean 'orders'"):
        loaded.sql("select count(*) from ordrs")


def test_unreadable_sources_are_invalid_input(engine: Engine, sample: SampleData) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        engine.register("broken", sample.corrupt_parquet)
    with pytest.raises(InvalidInputError, match="file not found"):
        engine.register("gone", sample.corrupt_parquet.with_name("nope.parquet"))
    with pytest.raises(InvalidInputError, match="plain identifier"):
        engine.register("x; drop table orders", sample.orders_parquet)


def test_tables_lists_registered_names(loaded: Engine) -> None:
    assert {"orders", "events", "customers"} <= set(loaded.tables())
