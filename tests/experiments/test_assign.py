"""Assignment: Python and SQL agree bit for bit (DuckDB always, PostgreSQL and Spark when available), splits
follow the weights, ramp-up never moves a unit, holdouts and layers exclude exactly what they should."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import uuid

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from scipy import stats

from assay.errors import InvalidInputError
from assay.experiments.assign import BUCKETS, AssignmentSpec, assign, assignment_sql, bucket_sql, buckets

PG_URL = os.environ.get("ASSAY_TEST_POSTGRES_URL")
VARIANTS = ["control", "treatment", "treatment-b"]
WEIGHTS = [0.5, 0.3, 0.2]
GATED = {"traffic": 0.6, "holdout": 0.1, "layer": "checkout", "layer_range": (0.25, 0.75)}
# Awkward but legal names: quotes, backslashes, colons and non-ASCII must survive every dialect's literals.
ODD = {"experiment": "it's a:b\\c ünï", "variants": ["c'ontrol", "tréat\\ment"]}


def duck_variants(sql: str, ids_sql: str) -> list[str | None]:
    """Evaluate an assignment expression over ``SELECT ... AS unit_id`` in DuckDB, in row order."""
    query = f"SELECT {sql} AS v FROM (SELECT row_number() OVER () AS rn, * FROM ({ids_sql})) ORDER BY rn"
    return [row[0] for row in duckdb.sql(query).fetchall()]


def same(a: np.ndarray | list, b: np.ndarray | list) -> bool:
    return len(a) == len(b) and all(x == y for x, y in zip(a, b, strict=True))


# --- Python vs SQL engines ---------------------------------------------------------------------------------


def test_python_and_duckdb_assign_every_one_of_a_million_ids_identically() -> None:
    ids = [str(i) for i in range(1_000_000)]
    sql = assignment_sql("checkout-v2", VARIANTS, WEIGHTS, unit_column="unit_id")
    in_sql = duck_variants(sql, "SELECT CAST(range AS VARCHAR) AS unit_id FROM range(1000000)")
    in_python = assign(ids, "checkout-v2", VARIANTS, WEIGHTS)
    assert same(in_python, in_sql)
    assert set(in_sql) == set(VARIANTS)


def test_python_and_duckdb_agree_with_every_gate_on_integer_ids() -> None:
    n = 200_000
    sql = assignment_sql("checkout-v2", VARIANTS, WEIGHTS, unit_column="unit_id", **GATED)
    in_sql = duck_variants(sql, f"SELECT range AS unit_id FROM range({n})")  # BIGINT, cast to text inside
    in_python = assign(np.arange(n), "checkout-v2", VARIANTS, WEIGHTS, **GATED)
    assert same(in_python, in_sql)
    share_in = np.mean([v is not None for v in in_python])
    assert share_in == pytest.approx(0.9 * 0.5 * 0.6, abs=0.01)


def test_awkward_ids_and_names_agree_with_duckdb() -> None:
    ids = ["", " ", "Ünïcödé", "日本語", "a'b", "back\\slash", "-5", "18446744073709551615", str(uuid.UUID(int=7))]
    ids.append(None)
    frame = pd.DataFrame({"unit_id": ids})  # noqa: F841 - read by DuckDB's replacement scan
    sql = assignment_sql(ODD["experiment"], ODD["variants"], unit_column="unit_id", traffic=0.7)
    in_sql = [row[0] for row in duckdb.sql(f"SELECT {sql} FROM frame").fetchall()]
    assert same(assign(ids, ODD["experiment"], ODD["variants"], traffic=0.7), in_sql)
    assert in_sql[-1] is None
    got = duckdb.sql(f"SELECT {bucket_sql('salt', 'unit_id')} FROM frame").fetchall()
    assert [b if b is not None else -1 for (b,) in got] == buckets(ids, "salt").tolist()


def test_bucket_is_md5_prefix_mod_10000() -> None:
    digest = hashlib.md5(b"checkout-v2:42").hexdigest()
    assert buckets([42], "checkout-v2")[0] == int(digest[:15], 16) % BUCKETS
    assert duckdb.sql(f"SELECT {bucket_sql('checkout-v2', '42')}").fetchall()[0][0] == int(digest[:15], 16) % 10_000


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set ASSAY_TEST_POSTGRES_URL to compare against PostgreSQL")
def test_python_and_postgres_agree_on_100k_ids() -> None:
    from sqlalchemy import create_engine

    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) if PG_URL.startswith("postgresql://") else PG_URL
    engine = create_engine(url)
    n = 100_000
    try:
        with engine.connect() as conn:
            for options in ({}, GATED):
                sql = assignment_sql("checkout-v2", VARIANTS, WEIGHTS, dialect="postgres", unit_column="g", **options)
                # exec_driver_sql: SQLAlchemy's text() would read ':name' inside the salt literals as bind params
                rows = conn.exec_driver_sql(f"SELECT {sql} FROM generate_series(0, {n - 1}) AS g ORDER BY g")
                assert same(assign(np.arange(n), "checkout-v2", VARIANTS, WEIGHTS, **options), [r[0] for r in rows])
            sql = assignment_sql(ODD["experiment"], ODD["variants"], dialect="postgres", unit_column="u")
            ids = ["Ünïcödé", "日本語", "a'b", "back\\slash", None]
            values = ", ".join("(NULL)" if i is None else "('" + i.replace("'", "''") + "')" for i in ids)
            rows = conn.exec_driver_sql(f"SELECT {sql} FROM (VALUES {values}) AS t(u)")
            assert same(assign(ids, ODD["experiment"], ODD["variants"]), [r[0] for r in rows])
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("assay-assign-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.slow
def test_python_and_spark_agree(spark) -> None:  # type: ignore[no-untyped-def]
    n = 100_000
    for name, variants, options in (("checkout-v2", VARIANTS, {}), (ODD["experiment"], ODD["variants"], GATED)):
        sql = assignment_sql(name, variants, dialect="spark", unit_column="id", **options)
        rows = spark.sql(f"SELECT {sql} AS v FROM range({n}) ORDER BY id").collect()
        assert same(assign(np.arange(n), name, variants, **options), [r.v for r in rows])


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "spark", "postgres", "duckdb"])
def test_sql_parses_in_every_dialect(dialect: str) -> None:
    """BigQuery and Snowflake are not run against a live warehouse: only parsed (and cross-checked below)."""
    sql = assignment_sql(ODD["experiment"], ODD["variants"], [1, 3], dialect=dialect, unit_column="t.user_id", **GATED)
    parsed = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(parsed, sqlglot.exp.Case)
    assert len(parsed.args["ifs"]) == 3 + 2  # holdout, layer, traffic gates + one branch per variant


def test_bigquery_sql_means_the_same_when_transpiled_to_duckdb() -> None:
    """A semantic cross-check of the BigQuery hex conversion via sqlglot (our SQL itself is hand-written)."""
    sql = assignment_sql("checkout-v2", VARIANTS, WEIGHTS, dialect="bigquery", unit_column="unit_id", **GATED)
    duck = sqlglot.transpile(f"SELECT {sql} AS v FROM t", read="bigquery", write="duckdb")[0]
    duckdb_conn = duckdb.connect()
    duckdb_conn.execute("CREATE TABLE t AS SELECT range AS unit_id FROM range(20000)")
    rows = duckdb_conn.sql(f"{duck} ORDER BY unit_id").fetchall()
    assert same(assign(np.arange(20_000), "checkout-v2", VARIANTS, WEIGHTS, **GATED), [r[0] for r in rows])


def test_snowflake_md5_number_upper64_matches_its_documented_example() -> None:
    """Snowflake documents MD5_NUMBER_UPPER64('Snowflake') = 17145559544104499780; our SQL divides it by 16."""
    top16 = int(hashlib.md5(b"Snowflake").hexdigest()[:16], 16)
    assert top16 == 17145559544104499780
    assert top16 // 16 == int(hashlib.md5(b"Snowflake").hexdigest()[:15], 16)
    assert "FLOOR(MD5_NUMBER_UPPER64('s:' || CAST(u AS VARCHAR)) / 16)" in bucket_sql("s", "u", "snowflake")


# --- statistical properties --------------------------------------------------------------------------------


def test_split_follows_the_weights() -> None:
    got = assign(np.arange(300_000), "split-check", VARIANTS, WEIGHTS)
    counts = [int(np.sum(got == v)) for v in VARIANTS]
    assert stats.chisquare(counts, np.asarray(WEIGHTS) * len(got)).pvalue > 0.001


def test_thresholds_are_integers_computed_once() -> None:
    spec = AssignmentSpec("x", ("a", "b", "c"), (1, 1, 1))
    assert spec.thresholds == (3333, 6667, 10000)
    assert spec.variant_shares == {"a": 0.3333, "b": 0.3334, "c": 0.3333}
    assert "< 3333 THEN 'a'" in spec.sql() and "< 6667 THEN 'b'" in spec.sql()


def test_deterministic_across_input_types() -> None:
    ints = list(range(1000))
    first = assign(ints, "exp", ["a", "b"])
    assert same(first, assign(ints, "exp", ["a", "b"]))
    for other in (np.array(ints), pd.Series(ints), [str(i) for i in ints], pd.Series([str(i) for i in ints])):
        assert same(first, assign(other, "exp", ["a", "b"]))
    assert same(first, assign(pd.Series(ints, dtype="Int64"), "exp", ["a", "b"]))
    assert same(first, assign(np.array(ints, dtype=np.uint32), "exp", ["a", "b"]))
    assert same(first, assign(pa.array(ints), "exp", ["a", "b"]))
    assert same(first, assign(pd.Index(ints), "exp", ["a", "b"]))
    assert same(first, assign(np.array([str(i) for i in ints]), "exp", ["a", "b"]))


def test_missing_ids_are_unassigned() -> None:
    got = assign(pd.Series([1, None, 3], dtype="Int64"), "exp", ["a", "b"]).tolist()
    assert got[1] is None and got[0] is not None
    assert assign(["x", None, float("nan"), pd.NA], "exp", ["a", "b"]).tolist()[1:] == [None, None, None]
    assert buckets(pd.Series(["x", None]), "exp").tolist()[1] == -1


def test_salt_changes_assignment_and_defaults_to_the_name() -> None:
    ids = np.arange(20_000)
    base = assign(ids, "exp", ["a", "b"])
    assert same(base, assign(ids, "other-name", ["a", "b"], salt="exp"))
    moved = np.mean(base != assign(ids, "exp", ["a", "b"], salt="exp-rerun"))
    assert moved == pytest.approx(0.5, abs=0.02)


def test_two_experiments_are_independent() -> None:
    ids = np.arange(100_000)
    first = assign(ids, "pricing", ["a", "b", "c"])
    second = assign(ids, "checkout", ["x", "y"])
    table = pd.crosstab(first, second).to_numpy()
    assert table.shape == (3, 2)
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_ramp_up_only_adds_units_and_never_moves_one() -> None:
    ids = np.arange(50_000)
    steps = [assign(ids, "ramp", VARIANTS, WEIGHTS, traffic=t) for t in (0.1, 0.5, 1.0)]
    for before, after in itertools.pairwise(steps):
        was_in = np.array([v is not None for v in before])
        assert all(v is not None for v in after[was_in])  # nobody leaves
        assert same(before[was_in], after[was_in])  # nobody changes arm
    assert np.mean([v is not None for v in steps[0]]) == pytest.approx(0.1, abs=0.01)
    assert same(steps[-1], assign(ids, "ramp", VARIANTS, WEIGHTS))  # 100% traffic = no gate
    assert all(v is None for v in assign(ids[:100], "ramp", VARIANTS, traffic=0))


def test_holdout_excludes_the_same_units_from_every_experiment() -> None:
    ids = np.arange(50_000)
    held_a = assign(ids, "exp-a", ["a", "b"], holdout=0.1) == None  # noqa: E711 - elementwise
    held_b = assign(ids, "exp-b", ["x", "y", "z"], holdout=0.1) == None  # noqa: E711
    assert np.array_equal(held_a, held_b)
    assert held_a.mean() == pytest.approx(0.1, abs=0.01)
    smaller = assign(ids, "exp-c", ["a", "b"], holdout=0.05) == None  # noqa: E711
    assert np.all(held_a[smaller])  # a smaller holdout is a subset of the larger one
    other = assign(ids, "exp-a", ["a", "b"], holdout=0.1, holdout_name="q3") == None  # noqa: E711
    assert np.mean(other & held_a) == pytest.approx(0.01, abs=0.003)  # another holdout is independent
    # outside the holdout, units keep the arm they would have had without it
    assert same(assign(ids, "exp-a", ["a", "b"])[~held_a], assign(ids, "exp-a", ["a", "b"], holdout=0.1)[~held_a])


def test_layer_ranges_are_mutually_exclusive_and_cover_everyone() -> None:
    ids = np.arange(50_000)
    left = assign(ids, "exp-left", ["a", "b"], layer="checkout", layer_range=(0, 0.5))
    right = assign(ids, "exp-right", ["a", "b"], layer="checkout", layer_range=(0.5, 1))
    in_left = np.array([v is not None for v in left])
    in_right = np.array([v is not None for v in right])
    assert not np.any(in_left & in_right)
    assert np.all(in_left | in_right)
    assert in_left.mean() == pytest.approx(0.5, abs=0.01)
    thirds = [assign(ids, f"e{i}", ["a"], layer="L2", layer_range=(i / 3, (i + 1) / 3)) for i in range(3)]
    assert np.all(sum(np.array([v is not None for v in t], dtype=int) for t in thirds) == 1)


# --- the spec object ---------------------------------------------------------------------------------------


def test_spec_round_trips_through_json_and_matches_the_functions() -> None:
    spec = AssignmentSpec("checkout-v2", tuple(VARIANTS), tuple(WEIGHTS), salt="s1", **GATED)
    data = json.loads(json.dumps(spec.to_dict()))
    assert AssignmentSpec.from_dict(data) == spec
    ids = np.arange(5000)
    assert same(spec.assign(ids), assign(ids, "checkout-v2", VARIANTS, WEIGHTS, salt="s1", **GATED))
    expected = assignment_sql("checkout-v2", VARIANTS, WEIGHTS, salt="s1", dialect="spark", unit_column="u", **GATED)
    assert spec.sql("spark", "u") == expected
    assert AssignmentSpec("e", ["a", "b"]).variants == ("a", "b")
    with pytest.raises(InvalidInputError, match="keys among"):
        AssignmentSpec.from_dict({**data, "colour": "red"})


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [0.5]}, "The 'weights' parameter of assign must be a list of 2 positive finite numbers"),
        ({"weights": [1, -1]}, "The 'weights' parameter of assign must be"),
        ({"weights": [1, 0]}, "The 'weights' parameter of assign must be"),
        ({"weights": [1, float("nan")]}, "The 'weights' parameter of assign must be"),
        ({"weights": [True, 1]}, "The 'weights' parameter of assign must be"),
        ({"weights": [1, 1e-6]}, "at least 0.01% of units"),
        ({"variants": []}, "The 'variants' parameter of assign must be a non-empty list"),
        ({"variants": "ab"}, "The 'variants' parameter of assign must be a non-empty list"),
        ({"variants": ["a", "a"]}, "distinct names"),
        ({"variants": ["a", 2]}, "non-empty string"),
        ({"experiment": ""}, "The 'experiment' parameter of assign must be a non-empty string"),
        ({"salt": "a\nb"}, "The 'salt' parameter of assign must be a non-empty string of printable"),
        ({"traffic": 1.5}, r"The 'traffic' parameter of assign must be in \[0, 1\]. Got 1.5."),
        ({"holdout": 1.0}, r"The 'holdout' parameter of assign must be in \[0, 1\)"),
        ({"layer": "L"}, "The 'layer_range' parameter of assign must be a \\(low, high\\) pair"),
        ({"layer_range": (0, 0.5)}, "The 'layer' parameter of assign must be given"),
        ({"layer": "L", "layer_range": (0.5, 0.2)}, "0 <= low < high <= 1"),
        ({"layer": "L", "layer_range": (0, 1.2)}, "0 <= low < high <= 1"),
        ({"layer": "L", "layer_range": "ab"}, "0 <= low < high <= 1"),
    ],
)
def test_bad_parameters_raise_with_the_house_message(kwargs: dict, message: str) -> None:
    call = {"experiment": "exp", "variants": ["a", "b"], **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        assign(["u1"], **call)
    with pytest.raises(ValueError, match=message.replace("of assign", "of assignment_sql")):
        assignment_sql(**call)


@pytest.mark.parametrize(
    "ids", [[1.5, 2.0], np.array([1.0, 2.0]), [True, False], pd.Series([0.1]), "abc", 42, [b"x"], [object()]]
)
def test_ids_whose_text_differs_between_python_and_sql_are_refused(ids: object) -> None:
    with pytest.raises(InvalidInputError, match="'unit_ids' parameter of assign"):
        assign(ids, "exp", ["a", "b"])


def test_bad_sql_arguments() -> None:
    with pytest.raises(InvalidInputError, match="'dialect' parameter of assignment_sql must be one of"):
        assignment_sql("exp", ["a", "b"], dialect="oracle")
    for column in ("x; DROP TABLE y", "(SELECT 1)", "", "a b c d ,,"):
        with pytest.raises(InvalidInputError, match="'unit_column' parameter of assignment_sql"):
            assignment_sql("exp", ["a", "b"], unit_column=column)
    assert "CAST(t.user_id AS TEXT)" in assignment_sql("exp", ["a"], dialect="postgresql", unit_column="t.user_id")
