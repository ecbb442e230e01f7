"""assay.data.contract: YAML/Python contracts validated in one scan, with samples of failing rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assay.data.contract import ColumnRule, Contract, Freshness, RowCount, SqlCheck, parse_duration
from assay.engine import Engine, connect
from assay.errors import InvalidInputError

YAML = """
dataset: orders
columns:
  id: {type: integer, not_null: true, unique: true}
  amount: {type: float, not_null: true, min: 0}
  status: {type: string, in: [new, paid, shipped, refunded]}
  email: {type: string, regex: '^[^@]+@[^@]+$', severity: warn}
  customer_id: {type: integer, references: customers.id}
rows: {min: 1}
freshness: {column: created_at, max_age: 1d}
checks:
  - name: paid_orders_have_amount
    sql: "select * from orders where status = 'paid' and amount = 0"   # returned rows are the failures
    severity: error
"""
NOW = dt.datetime(2024, 1, 4, 12)


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 3, 5, 6],
            "amount": [10.0, 0.0, -1.0, None, 3.0, 7.5],
            "status": ["new", "paid", "bogus", None, "paid", "shipped"],
            "email": ["a@b.c", "bad", None, "x@y.z", "q@r", "@no"],
            "customer_id": pd.array([1, 2, 9, None, 1, 3], dtype="Int64"),
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-04", None]),
        }
    )


CUSTOMERS = pd.DataFrame({"id": [1, 2, 3]})


def test_yaml_contract_finds_every_violation() -> None:
    result = Contract.from_yaml(YAML).validate(_orders(), references={"customers": CUSTOMERS}, now=NOW)
    by = {c.name: c for c in result.checks}
    failing = {c.name: c.failing for c in result.checks if not c.passed}
    assert failing == {
        "id.unique": 2,  # both rows with id 3
        "amount.not_null": 1,
        "amount.min": 1,
        "status.in": 1,
        "email.regex": 2,
        "customer_id.references": 1,
        "paid_orders_have_amount": 1,
    }
    assert not result.passed and {c.name for c in result.warnings} == {"email.regex"}
    assert all(c.total == 6 for c in result.checks if c.kind not in ("type", "exists", "row_count", "freshness"))
    assert by["amount.min"].sample == ({"id": 3, "amount": -1.0},)  # key column (the unique id) + the column
    assert by["id.unique"].sample == ({"id": 3}, {"id": 3})
    assert by["customer_id.references"].sample == ({"id": 3, "customer_id": 9},)
    assert by["paid_orders_have_amount"].sample[0]["id"] == 2
    assert by["created_at.freshness"].passed and "12.0 hours old" in by["created_at.freshness"].message
    assert by["rows"].passed and by["id.type"].passed and by["customer_id.type"].passed
    assert "7 of 15 checks failed on 6 rows (6 errors, 1 warning)" in result.summary()
    assert result.summary().endswith("The data breaks its contract.")
    assert result.check("status.in").sample == ({"id": 3, "status": "bogus"},)
    assert result.to_dict()["checks"][0]["name"] == "id.type"


def test_only_warnings_pass_and_clean_data_passes() -> None:
    df = _orders().iloc[[0, 5]]  # row 6 has a bad email (warn) and no created_at
    contract = Contract.from_yaml(YAML)
    result = contract.validate(df, references={"customers": CUSTOMERS}, now=dt.datetime(2024, 1, 1, 6))
    assert result.passed and [c.name for c in result.failed] == ["email.regex"]
    assert "Only warnings" in result.summary()
    clean = contract.validate(df.iloc[:1], references={"customers": CUSTOMERS}, now=dt.datetime(2024, 1, 1, 6))
    assert clean.passed and not clean.failed and "all 15 checks passed on 1 rows" in clean.summary()


def test_freshness_uses_now_and_max_age() -> None:
    contract = Contract(freshness=Freshness("created_at", "12h"))
    df = _orders()
    assert contract.validate(df, now=dt.datetime(2024, 1, 4, 11)).passed
    stale = contract.validate(df, now=dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC)).checks[0]
    assert not stale.passed and stale.failing == 1 and "1.5 days old" in stale.message
    empty = contract.validate(df.iloc[:0], now=NOW).checks[0]
    assert not empty.passed and "no values" in empty.message
    assert parse_duration("30m") == dt.timedelta(minutes=30) and parse_duration("2w") == dt.timedelta(days=14)
    with pytest.raises(InvalidInputError, match="30m, 12h"):
        parse_duration("soon")


def test_missing_columns_and_wrong_types_fail_clearly() -> None:
    contract = Contract(
        columns=[ColumnRule("nope", type="integer", not_null=True, min=1), ColumnRule("status", type="integer", min=0)],
        rows=RowCount(min=10),
    )
    result = contract.validate(_orders())
    by = {c.name: c for c in result.checks}
    assert not by["nope.type"].passed and "column 'nope' is missing; available: id, amount" in by["nope.type"].message
    assert not by["nope.not_null"].passed and by["nope.not_null"].message == "not checked: column 'nope' is missing"
    assert not by["status.type"].passed and "VARCHAR, expected integer" in by["status.type"].message
    assert by["status.min"].message.startswith("not checked: min needs a numeric")
    assert not by["rows"].passed and by["rows"].message == "6 rows; expected at least 10 rows"


def test_allowed_values_that_cannot_compare_are_isolated() -> None:
    df = pd.DataFrame({"n": [1, 2, 3, 4], "flag": [True, False, True, True]})
    contract = Contract(
        columns=[ColumnRule("n", allowed=[1, 2, "three"], not_null=True), ColumnRule("flag", allowed=[True])]
    )
    by = {c.name: c for c in contract.validate(df).checks}
    assert by["n.in"].failing == 2 and by["n.not_null"].passed  # compared as text
    assert by["flag.in"].failing == 1


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown key\(s\) 'nul' in column 'id'; allowed: type, not_null"):
        Contract.from_yaml("columns:\n  id: {nul: true}")
    with pytest.raises(InvalidInputError, match=r"unknown key\(s\) 'colums' in the contract; allowed: dataset"):
        Contract.from_yaml("colums: {}")
    with pytest.raises(InvalidInputError, match="in rows; allowed: min, max, severity"):
        Contract.from_dict({"rows": {"minimum": 1}})
    with pytest.raises(InvalidInputError, match="severity must be 'error' or 'warn'"):
        Contract.from_dict({"columns": {"a": {"severity": "fatal"}}})
    with pytest.raises(InvalidInputError, match="type must be one of integer"):
        ColumnRule("a", type="int")
    with pytest.raises(InvalidInputError, match="does not compile"):
        ColumnRule("a", regex="(")
    with pytest.raises(InvalidInputError, match="only a single read-only SELECT"):
        Contract(dataset="t", checks=[SqlCheck("x", "drop table t")])
    with pytest.raises(InvalidInputError, match="need 'dataset:'"):
        Contract(checks=[SqlCheck("x", "select 1")])
    with pytest.raises(InvalidInputError, match=r"table\.column"):
        ColumnRule("a", references="customers")


def test_yaml_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(YAML)
    contract = Contract.from_yaml(path)
    assert contract == Contract.from_yaml(str(path)) == Contract.from_yaml(contract.to_yaml())
    assert contract.column("amount").min == 0 and contract.freshness.max_age == dt.timedelta(days=1)  # type: ignore[union-attr]


def test_sql_check_errors_and_missing_reference_do_not_crash() -> None:
    contract = Contract(
        dataset="orders",
        columns=[ColumnRule("customer_id", references="customers.id")],
        checks=[SqlCheck("bad", "select * from orders where nope > 1")],
    )
    by = {c.name: c for c in contract.validate(_orders()).checks}
    assert by["customer_id.references"].message.startswith("not checked: referenced table 'customers'")
    assert by["bad"].message.startswith("not checked:") and "nope" in by["bad"].message


def test_engine_tables_and_key_columns(tmp_path: Path) -> None:
    with connect() as eng:
        eng.register("customers", CUSTOMERS)
        eng.register("orders_raw", _orders())
        contract = Contract(dataset="orders", columns=[ColumnRule("customer_id", references="customers.id")])
        result = contract.validate("orders_raw", engine=eng, key_columns=["status"], sample=1)
        assert result.check("customer_id.references").sample == ({"status": "bogus", "customer_id": 9},)
        with pytest.raises(InvalidInputError, match="key column"):
            contract.validate("orders_raw", engine=eng, key_columns=["zzz"])


def test_contract_on_each_backend(backend_engine: Engine) -> None:
    """The SQL is portable: the same failing counts on DuckDB, PostgreSQL and Spark."""
    orders = pa.Table.from_pandas(_orders(), preserve_index=False)
    backend_engine.register("c_orders", orders)
    backend_engine.register("customers", CUSTOMERS)
    contract = Contract.from_yaml(YAML)
    result = contract.validate("c_orders", engine=backend_engine, now=NOW)
    failing = {c.name: c.failing for c in result.checks if not c.passed}
    assert failing == {
        "id.unique": 2,
        "amount.not_null": 1,
        "amount.min": 1,
        "status.in": 1,
        "email.regex": 2,
        "customer_id.references": 1,
        "paid_orders_have_amount": 1,
    }
    assert result.check("email.regex").sample[0]["email"] in ("bad", "@no")
    assert result.check("created_at.freshness").passed
