"""DuckDB-dialect SQL → Spark / PostgreSQL text, including assay's own rewrites (no engine needed)."""

from __future__ import annotations

import pytest

from assay.engine._sql import check_params, to_dialect
from assay.errors import InvalidInputError

MD5_BUCKET = "select cast('0x' || substr(md5($salt || ':' || cast(id as varchar)), 1, 8) as bigint) % 100 from t"


def test_duckdb_is_left_alone() -> None:
    sql = "select * exclude (a) from t qualify row_number() over () = 1"
    assert to_dialect(sql, "duckdb") == sql


def test_md5_bucket_spark() -> None:
    assert to_dialect(MD5_BUCKET, "spark") == (
        "SELECT CAST(CONV(SUBSTRING(MD5(:salt || ':' || CAST(id AS STRING)), 1, 8), 16, 10) AS BIGINT) % 100 FROM t"
    )


def test_md5_bucket_postgres_with_psycopg_placeholders_and_escaped_percent() -> None:
    assert to_dialect(MD5_BUCKET, "postgres") == (
        "SELECT CAST(CAST('x' || LPAD(SUBSTRING(MD5(%(salt)s || ':' || CAST(id AS TEXT)) FROM 1 FOR 8), 16, '0') "
        "AS BIT(64)) AS BIGINT) %% 100 FROM t"
    )
    assert to_dialect("select * from t where s like 'a%' and x = $x", "postgres") == (
        "SELECT * FROM t WHERE s LIKE 'a%%' AND x = %(x)s"
    )


def test_group_by_all() -> None:
    sql = "select a, lower(b) as b, count(*) as n, 1 as one from t group by all"
    assert to_dialect(sql, "postgres").endswith("GROUP BY 1, 2")
    assert to_dialect(sql, "spark").endswith("GROUP BY ALL")  # Spark >= 3.4 has it


def test_date_diff_counts_boundaries_on_spark_and_postgres() -> None:
    assert to_dialect("select date_diff('day', a, b) from t", "spark") == (
        "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) FROM t"
    )
    assert to_dialect("select date_diff('hour', a, b) from t", "spark") == (
        "SELECT TIMESTAMPDIFF(HOUR, DATE_TRUNC('HOUR', a), DATE_TRUNC('HOUR', b)) FROM t"
    )
    assert to_dialect("select date_diff('week', a, b) from t", "spark") == (
        "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) DIV 7 FROM t"
    )
    assert to_dialect("select date_diff('day', a, b) from t", "postgres") == (
        "SELECT (CAST(b AS DATE) - CAST(a AS DATE)) FROM t"
    )
    assert to_dialect("select date_diff('week', a, b) from t", "postgres") == (
        "SELECT CAST(DIV((CAST(b AS DATE) - CAST(a AS DATE)), 7) AS BIGINT) FROM t"
    )


def test_epoch_keeps_fractional_seconds_on_spark() -> None:
    assert (
        to_dialect("select epoch(ts) from t", "spark") == "SELECT UNIX_MICROS(CAST(ts AS TIMESTAMP)) / 1000000 FROM t"
    )


def test_quantiles_and_distinct_counts() -> None:
    sql = "select quantile_cont(x, 0.5), approx_quantile(x, 0.9), approx_count_distinct(y) from t"
    assert to_dialect(sql, "spark") == (
        "SELECT PERCENTILE(x, 0.5), PERCENTILE_APPROX(x, 0.9), APPROX_COUNT_DISTINCT(y) FROM t"
    )
    assert to_dialect("select quantile_disc(x, 0.25) from t", "spark") == (
        "SELECT PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY x NULLS LAST) FROM t"
    )
    assert to_dialect(sql, "postgres") == (
        "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x), PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY x), "
        "COUNT(DISTINCT y) FROM t"
    )


def test_sum_of_predicate_is_cast() -> None:
    assert to_dialect("select sum(x > 0), sum(x) from t", "postgres") == "SELECT SUM(CAST(x > 0 AS INT)), SUM(x) FROM t"


def test_syntax_error_has_position() -> None:
    with pytest.raises(InvalidInputError, match=r"SQL syntax error.*line 1"):
        to_dialect("select a from t where (", "spark")


def test_check_params() -> None:
    assert check_params("select $a, $b", {"a": 1, "b": "x"}) == {"a": 1, "b": "x"}
    assert check_params("select 1", None) == {}
    with pytest.raises(InvalidInputError, match=r"\$b"):
        check_params("select $a, $b", {"a": 1})
    with pytest.raises(InvalidInputError, match="c"):
        check_params("select $a", {"a": 1, "c": 2})


SCANNED = [
    "select $1",
    "select $a, $b_2 from t where x = '$c' and \"$d\" = 1 -- $e\n /* $f */",
    "select $a::int",
    "select x from t where y in ($p1, $p2) and z = ANY([$p3, $p4])",
    "select '$'||$a",
    "select 'it''s $x' || $y",
    'select "a""$b" from t',
    "select count_if(email IS NOT NULL AND NOT regexp_matches(email, '^[^@\\s]+@x\\.[a-z]+$')) AS f1 from t",
    "select 1 /* a comment with 'quotes' */ + $a",
]
PARSED = ["select $$abc$$", "select $tag$x$tag$", "select E'\\'$x'", "select /* /* nested */ $a */ 1", "select 'open"]


@pytest.mark.parametrize("sql", SCANNED)
def test_placeholders_scanned_without_a_parse_match_the_parser(sql: str) -> None:
    """The lexical scan (no sqlglot parse) finds exactly the placeholders sqlglot finds."""
    from sqlglot import exp

    from assay.engine._sql import _parse, _scan_placeholders

    assert _scan_placeholders(sql) == frozenset(p.name for p in _parse(sql).find_all(exp.Placeholder) if p.this)


@pytest.mark.parametrize("sql", PARSED)
def test_placeholder_scan_hands_unusual_quoting_to_the_parser(sql: str) -> None:
    from assay.engine._sql import _scan_placeholders

    assert _scan_placeholders(sql) is None
