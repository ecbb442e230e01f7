"""pseudonymize: keyed HMAC-SHA256 tokens computed in DuckDB match Python's hmac, join across tables, keep nulls."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.data.pseudonymize import PseudonymizeResult, key_id, pseudonymize, pseudonymize_value
from assay.engine import Engine
from assay.errors import InvalidInputError

KEY = b"0123456789abcdef-secret"
OTHER_KEY = b"fedcba9876543210-secret"


def _hmac(key: bytes, value: bytes) -> str:
    return hmac.new(key, value, hashlib.sha256).hexdigest()


@pytest.fixture
def customers() -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([101, 102, 103, None], pa.int64()),
            "email": [" Ada@Example.com", "bob@example.com", None, "zoë@example.org"],
            "country": ["UK", "US", "DE", "FR"],
            "blob": pa.array([b"\x00\xff", None, b"abc", b""], pa.binary()),
        }
    )


def test_tokens_match_python_hmac_and_nulls_stay_null(customers: pa.Table) -> None:
    out = pseudonymize(customers, ["customer_id", "email", "blob"], KEY)
    assert isinstance(out, pa.Table)
    assert out.column_names == customers.column_names  # order kept
    assert out.column("country").to_pylist() == ["UK", "US", "DE", "FR"]  # untouched
    emails = out.column("email").to_pylist()
    assert emails[0] == _hmac(KEY, b" Ada@Example.com")
    assert emails[3] == _hmac(KEY, "zoë@example.org".encode())  # UTF-8 bytes
    assert emails[2] is None
    ids = out.column("customer_id").to_pylist()
    assert ids[:3] == [_hmac(KEY, str(i).encode()) for i in (101, 102, 103)]
    assert ids[3] is None
    blobs = out.column("blob").to_pylist()
    assert blobs == [_hmac(KEY, b"\x00\xff"), None, _hmac(KEY, b"abc"), _hmac(KEY, b"")]
    assert all(len(t) == 64 for t in emails if t)
    meta = json.loads(out.schema.metadata[b"assay.pseudonymized"])
    assert meta["columns"] == ["customer_id", "email", "blob"] and meta["key_id"] == key_id(KEY)


def test_same_key_joins_across_tables_other_key_does_not() -> None:
    customers = pa.table({"customer_id": ["c1", "c2", "c3"], "segment": ["a", "b", "a"]})
    orders = pd.DataFrame({"customer_id": ["c2", "c3", "c3", "c9"], "amount": [10.0, 5.0, 7.5, 1.0]})
    c = pseudonymize(customers, "customer_id", KEY)
    o = pseudonymize(orders, "customer_id", KEY)
    joined = o.join(c, "customer_id", join_type="inner").sort_by("amount")
    assert joined.column("segment").to_pylist() == ["a", "a", "b"]  # c9 has no match
    o_other = pseudonymize(orders, "customer_id", OTHER_KEY)
    assert not set(o_other.column("customer_id").to_pylist()) & set(c.column("customer_id").to_pylist())
    assert key_id(KEY) != key_id(OTHER_KEY)


def test_str_key_equals_its_utf8_bytes_and_long_keys_work() -> None:
    t = pa.table({"x": ["v"]})
    assert pseudonymize(t, "x", KEY.decode()).column("x").to_pylist() == [_hmac(KEY, b"v")]
    long_key = bytes(range(100))  # longer than a SHA-256 block: hashed first, as RFC 2104 says
    assert pseudonymize(t, "x", long_key).column("x").to_pylist() == [_hmac(long_key, b"v")]


def test_normalize_and_truncation(customers: pa.Table) -> None:
    out = pseudonymize(customers, ["email", "customer_id"], KEY, normalize={"email": "lower"}, digest_chars=20)
    assert out.column("email").to_pylist()[0] == _hmac(KEY, b"ada@example.com")[:20]
    assert out.column("customer_id").to_pylist()[0] == _hmac(KEY, b"101")[:20]  # not normalised
    assert (
        pseudonymize_value(" Ada@Example.com", KEY, normalize="lower", digest_chars=20)
        == (out.column("email").to_pylist()[0])
    )
    trimmed = pseudonymize(customers, "email", KEY, normalize="trim").column("email").to_pylist()
    assert trimmed[0] == _hmac(KEY, b"Ada@Example.com")
    assert pseudonymize_value(None, KEY) is None
    assert pseudonymize_value(101, KEY) == _hmac(KEY, b"101")


def test_parquet_output_is_written_atomically(tmp_path: Path, customers: pa.Table) -> None:
    target = tmp_path / "out" / "customers.parquet"
    res = pseudonymize(customers, ["email"], KEY, output=target)
    assert isinstance(res, PseudonymizeResult)
    assert res.rows == 4 and res.columns == ("email",) and Path(res.path) == target
    assert "email" in res.summary() and res.key_id in res.summary()
    assert sorted(p.name for p in target.parent.iterdir()) == ["customers.parquet"]  # no temp file left
    back = pq.read_table(target)
    assert back.column("email").to_pylist()[1] == _hmac(KEY, b"bob@example.com")
    assert b"assay.pseudonymized" in back.schema.metadata
    assert res.to_dict()["rows"] == 4


def test_streams_parquet_in_batches_with_progress(tmp_path: Path) -> None:
    src = tmp_path / "big.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'user' || i || '@example.com' AS email, i AS n FROM range(50000) r(i)) "
        f"TO '{src}' (FORMAT parquet)"
    )
    con.close()
    res = pseudonymize(src, "email", KEY, output=tmp_path / "o.parquet", batch_rows=7_000, show_progress=True)
    assert res.rows == 50_000
    out = pq.read_table(tmp_path / "o.parquet")
    sample = out.slice(49_999, 1).to_pylist()[0]
    assert sample == {"email": _hmac(KEY, f"user{sample['n']}@example.com".encode()), "n": sample["n"]}
    assert out.column("email").null_count == 0
    table = pseudonymize(src, "email", KEY, batch_rows=7_000, show_progress=True)  # Arrow batches, row progress
    assert table.num_rows == 50_000 and table.column("email").to_pylist()[:1] == out.column("email").to_pylist()[:1]


def test_empty_table_and_all_null_column(tmp_path: Path) -> None:
    empty = pa.table({"email": pa.array([], pa.string()), "n": pa.array([], pa.int64())})
    out = pseudonymize(empty, "email", KEY)
    assert out.num_rows == 0 and out.column_names == ["email", "n"]
    res = pseudonymize(empty, "email", KEY, output=tmp_path / "e.parquet")
    assert res.rows == 0 and pq.read_table(tmp_path / "e.parquet").num_rows == 0
    nulls = pa.table({"email": pa.array([None, None], pa.string())})
    assert pseudonymize(nulls, "email", KEY).column("email").to_pylist() == [None, None]


def test_bad_input_raises_typed_errors(tmp_path: Path, customers: pa.Table) -> None:
    with pytest.raises(InvalidInputError, match="at least 16"):
        pseudonymize(customers, "email", b"short")
    with pytest.raises(InvalidInputError, match=r"no column 'mail'.*customer_id, email, country, blob"):
        pseudonymize(customers, ["mail"], KEY)
    with pytest.raises(InvalidInputError, match="digest_chars"):
        pseudonymize(customers, "email", KEY, digest_chars=4)
    with pytest.raises(InvalidInputError, match="normalize"):
        pseudonymize(customers, "email", KEY, normalize="upper")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="columns"):
        pseudonymize(customers, [], KEY)
    nested = pa.table({"tags": [["a"], ["b"]]})
    with pytest.raises(InvalidInputError, match="cannot be pseudonymised"):
        pseudonymize(nested, "tags", KEY)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not really parquet PAR1")
    with pytest.raises(InvalidInputError):
        pseudonymize(corrupt, "email", KEY, output=tmp_path / "never.parquet")
    assert not (tmp_path / "never.parquet").exists()
    with pytest.raises(InvalidInputError, match="folder"):
        pseudonymize(customers, "email", KEY, output=tmp_path)


def test_tables_on_any_engine_give_the_same_tokens(backend_engine: Engine) -> None:
    backend_engine.register("people_pseudo", pa.table({"email": ["a@x.com", None], "age": [30, 40]}))
    out = pseudonymize("people_pseudo", "email", KEY, engine=backend_engine)
    assert sorted(out.column("email").to_pylist(), key=str) == sorted([_hmac(KEY, b"a@x.com"), None], key=str)
    assert sorted(out.column("age").to_pylist()) == [30, 40]
