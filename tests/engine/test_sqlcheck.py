"""sqlcheck: one read-only SELECT in, everything else out with a pointer to where."""

from __future__ import annotations

import pytest

from assay.engine.sqlcheck import parse_select, referenced_columns, referenced_tables
from assay.errors import InvalidInputError

ACCEPTED = [
    "select 1",
    "select a, count(*) from t group by a",
    "with x as (select 1 as a) select a from x union all select 2",
    "select * from t where id in (select id from u) intersect select * from t",
    "(select 1)",
    "from orders",
    "select * from range(10)",
    "select * from t, unnest([1, 2]) as u(x)",
    "select 1;",
    "select md5(a || ':' || b) from t qualify row_number() over (partition by a order by b) = 1",
]

REJECTED = [
    ("insert into t select 1", "found INSERT"),
    ("update t set a = 1", "found UPDATE"),
    ("delete from t", "found DELETE"),
    ("drop table orders", "found DROP"),
    ("create table x as select 1", "found CREATE"),
    ("attach 'other.db'", "found ATTACH"),
    ("copy t to 'out.csv'", "found COPY"),
    ("pragma version", "found PRAGMA"),
    ("set threads = 1", "found SET"),
    ("install httpfs", "found INSTALL"),
    ("load httpfs", "found LOAD"),
    ("select 1; select 2", "got 2 statements"),
    ("select 1; drop table t", "got 2 statements"),
    ("select * into t2 from t", "SELECT ... INTO"),
    ("select * from t for update", "FOR UPDATE"),
    ("with x as (delete from t returning *) select * from x", "found DELETE"),
    ("select * from read_csv('/etc/passwd')", "table function 'read_csv'"),
    ("select * from read_parquet(['a.parquet'])", "table function 'read_parquet'"),
    ("select * from '/etc/passwd'", "reading the file '/etc/passwd'"),
    ('select * from "data.parquet"', "reading the file 'data.parquet'"),
    ("select * from glob('/home/*')", "table function 'glob'"),
    ("select * from query('drop table t')", "table function 'query'"),
    ("select read_text('/etc/passwd')", "function 'read_text'"),
    ("select getenv('HOME')", "function 'getenv'"),
    ("select pg_read_file('/etc/passwd')", "function 'pg_read_file'"),
    ("values (1)", "found VALUES"),
    ("describe t", "found DESCRIBE"),
    ("select a frm t", "SQL syntax error"),
    ("", "non-empty"),
    ("-- only a comment", "only comments"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepts_single_select(sql: str) -> None:
    tree = parse_select(sql)
    assert tree.key in {"select", "union", "intersect", "except", "subquery"}


@pytest.mark.parametrize(("sql", "reason"), REJECTED)
def test_rejects(sql: str, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_select(sql)


def test_table_functions_allowed_on_request() -> None:
    parse_select("select * from read_parquet('x.parquet')", allow_table_functions=True)
    with pytest.raises(InvalidInputError, match="found DROP"):
        parse_select("drop table x", allow_table_functions=True)


def test_error_points_at_the_offending_text() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_select("select a,\n  read_text('/etc/passwd') as secret\nfrom t")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("(line 2, column 3)")
    assert lines[1].strip().startswith("read_text(")
    assert lines[2].index("^") == lines[1].index("read_text")

    with pytest.raises(InvalidInputError, match=r"line 2, column 5"):
        parse_select("select a\nfrm t")
    with pytest.raises(InvalidInputError, match=r"line 1, column 11") as info:
        parse_select("select 1; drop table t")
    assert isinstance(info.value, ValueError)  # InvalidInputError is also a ValueError


def test_referenced_columns_excludes_aliases_and_cte_outputs() -> None:
    sql = """
        with paid as (select customer_id, amount * fx as amount_eur from orders where status = 'paid')
        select customer_id, sum(amount_eur) as total from paid group by customer_id having total > 0 order by total
    """
    assert referenced_columns(sql) == {"customer_id", "amount", "fx", "status"}
    assert referenced_columns("select o.id, c.name from orders o join customers c on c.id = o.customer_id") == {
        "id",
        "name",
        "customer_id",
    }
    assert referenced_columns(parse_select("select count(*) from t")) == set()


def test_referenced_tables_excludes_ctes() -> None:
    sql = "with r as (select * from sales.orders) select * from r join users using (id) where x in (select x from z)"
    assert referenced_tables(sql) == {"sales.orders", "users", "z"}
