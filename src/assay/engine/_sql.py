"""DuckDB-dialect SQL → other dialects, with the rewrites sqlglot does not do on its own.

SQL in assay is written once, in DuckDB's dialect. For other engines it is parsed with
sqlglot and regenerated, after a few rewrites that make common DuckDB idioms mean the same
thing elsewhere:

* ``CAST('0x' || hex AS BIGINT)`` (hex string → integer, e.g. an md5 bucket) →
  Spark ``CAST(CONV(hex, 16, 10) AS BIGINT)``, PostgreSQL
  ``CAST(CAST('x' || LPAD(hex, 16, '0') AS BIT(64)) AS BIGINT)``. Keep ``hex`` ≤ 15 digits.
* ``date_diff(unit, a, b)`` counts unit boundaries in DuckDB; Spark's ``TIMESTAMPDIFF`` counts elapsed
  units. Spark gets ``DATEDIFF(CAST(b AS DATE), CAST(a AS DATE))`` for days (``DIV 7`` for weeks) and
  ``TIMESTAMPDIFF(UNIT, DATE_TRUNC('UNIT', a), DATE_TRUNC('UNIT', b))`` otherwise; ``epoch(ts)`` becomes
  ``UNIX_MICROS(CAST(ts AS TIMESTAMP)) / 1000000`` (``UNIX_TIMESTAMP`` would drop the fraction).
  PostgreSQL weeks likewise become ``DIV(date_b - date_a, 7)``.
* ``GROUP BY ALL`` → PostgreSQL ``GROUP BY 1, 2, ...`` (the non-aggregate select items).
* ``quantile_cont(x, q)`` → Spark ``PERCENTILE(x, q)``; ``quantile_disc`` → Spark
  ``PERCENTILE_DISC(q) WITHIN GROUP (ORDER BY x)``; ``approx_quantile`` / ``approx_count_distinct`` →
  PostgreSQL's exact ``PERCENTILE_CONT ... WITHIN GROUP`` / ``COUNT(DISTINCT ...)``.

* ``sum(<predicate>)`` → ``SUM(CAST(<predicate> AS INT))`` (a boolean *column* still needs the cast by hand).

Named parameters ``$name`` become ``:name`` (Spark) and ``%(name)s`` (psycopg; every other
``%`` is doubled so the driver reads it literally).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from assay.engine.sqlcheck import _offset, sql_error
from assay.errors import InvalidInputError

_INTEGER_TYPES = {
    exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
    exp.DataType.Type.UTINYINT, exp.DataType.Type.USMALLINT, exp.DataType.Type.UINT, exp.DataType.Type.UBIGINT,
    exp.DataType.Type.INT128, exp.DataType.Type.UINT128,
}  # fmt: skip
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM_MARK = "__assay_param_{}__"


def check_name(name: str, what: str = "table name") -> str:
    """Return ``name`` if it is a plain SQL identifier (letters, digits, ``_``), else raise.

    >>> check_name("orders_2024")
    'orders_2024'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"The {what} must be a plain identifier (letters, digits and '_', not starting with a digit). Got {name!r}."
        )
    return name


def _parse(sql: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise sql_error(f"SQL syntax error: {err.get('description') or exc}", sql, _offset(sql, err)) from exc
    except SqlglotError as exc:
        raise InvalidInputError(f"SQL syntax error: {exc}") from exc
    if len(statements) != 1:
        raise InvalidInputError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


# a string literal, a quoted identifier, a comment, or a $name / $1 placeholder (with a '$' after it: a dollar quote)
_LEXEME = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(\w+)(\$)?""", re.S)
_ESCAPE_STRING = re.compile(r"(?<![\w.])[eE]'")


def _scan_placeholders(sql: str) -> frozenset[str] | None:
    """The ``$params`` of ``sql`` found lexically (no parse: ~50x cheaper than sqlglot on a 20-check aggregate).

    ``None`` when the text holds what the scan does not model (dollar-quoted or ``E'...'`` strings, nested or
    unclosed quotes and comments): the caller then parses.
    """
    if "$$" in sql or _ESCAPE_STRING.search(sql):
        return None
    names, end = set(), 0
    for m in _LEXEME.finditer(sql):
        gap = sql[end : m.start()]
        if "'" in gap or '"' in gap or "/*" in gap or "*/" in gap:
            return None
        if m.group(1):
            if m.group(2):
                return None
            names.add(m.group(1))
        elif m.group(0).startswith("/*") and "/*" in m.group(0)[2:]:
            return None  # nested comment
        end = m.end()
    tail = sql[end:]
    if "'" in tail or '"' in tail or "/*" in tail or "*/" in tail:
        return None
    return frozenset(names)


@functools.lru_cache(maxsize=512)
def placeholder_names(sql: str) -> frozenset[str] | None:
    """Named ``$params`` in DuckDB SQL, or ``None`` when sqlglot cannot parse the text."""
    fast = _scan_placeholders(sql)
    if fast is not None:
        return fast
    try:
        tree = _parse(sql)
    except InvalidInputError:
        return None
    return frozenset(p.name for p in tree.find_all(exp.Placeholder) if p.this)


def check_params(
    sql: str, params: Mapping[str, object] | None, names: frozenset[str] | None = None
) -> dict[str, object]:
    """Validate ``params`` against the ``$names`` used in ``sql``; raise on missing or unused ones."""
    params = dict(params or {})
    if names is None:
        names = placeholder_names(sql) if params or "$" in sql else frozenset()
        if names is None:  # unparseable for sqlglot: let the engine bind and complain
            return params
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise InvalidInputError(f"parameter names must be strings; got {bad!r}")
    missing = sorted(names - params.keys())
    if missing:
        raise InvalidInputError(f"no value for SQL parameter(s) {', '.join('$' + m for m in missing)}; pass params=")
    unused = sorted(params.keys() - names)
    if unused:
        raise InvalidInputError(f"parameter(s) {', '.join(unused)} not used in the SQL (write them as $name)")
    return params


def _hex_cast(node: exp.Expression, dialect: str) -> exp.Expression:
    """``CAST('0x' || h AS <int>)`` → a form the target dialect understands."""
    if not isinstance(node, exp.Cast) or node.to.this not in _INTEGER_TYPES:
        return node
    inner = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    if isinstance(inner, exp.DPipe):
        parts = [inner.this, inner.expression]
    elif isinstance(inner, exp.Concat) and len(inner.expressions) == 2:
        parts = list(inner.expressions)
    else:
        return node
    prefix, hex_expr = parts
    if not (isinstance(prefix, exp.Literal) and prefix.is_string and prefix.this.lower() == "0x"):
        return node
    keep = {exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
    bigint = node.to.copy() if node.to.this in keep else exp.DataType.build("BIGINT")
    if dialect == "spark":
        conv = exp.Anonymous(this="CONV", expressions=[hex_expr.copy(), exp.Literal.number(16), exp.Literal.number(10)])
        return exp.Cast(this=conv, to=bigint)
    if dialect == "postgres":
        padded = exp.Anonymous(
            this="LPAD", expressions=[hex_expr.copy(), exp.Literal.number(16), exp.Literal.string("0")]
        )
        bits = exp.Cast(
            this=exp.DPipe(this=exp.Literal.string("x"), expression=padded),
            to=exp.DataType.build("BIT(64)", dialect="postgres"),
        )
        return exp.Cast(this=bits, to=bigint)
    return node


_UNITS = {"second", "minute", "hour", "day", "week", "month", "quarter", "year"}


def _dates(node: exp.Expression, dialect: str) -> exp.Expression:
    """DuckDB's ``date_diff`` counts unit *boundaries* (weeks: day boundaries // 7); ``epoch`` keeps fractions.

    Spark's ``TIMESTAMPDIFF`` counts whole elapsed units and ``UNIX_TIMESTAMP`` drops the fraction,
    so both ends are truncated to the unit first, and ``epoch`` goes through ``UNIX_MICROS``.
    sqlglot's PostgreSQL output is right for every unit but weeks, which get the DuckDB formula.
    """
    if dialect == "postgres" and isinstance(node, exp.DateDiff) and node.args.get("unit") is not None:
        if node.args["unit"].name.lower().rstrip("s") == "week":  # sqlglot counts week boundaries there
            date = exp.DataType.build("DATE")
            days = exp.Sub(
                this=exp.Cast(this=node.this.copy(), to=date), expression=exp.Cast(this=node.expression.copy(), to=date)
            )
            return exp.cast(exp.IntDiv(this=exp.Paren(this=days), expression=exp.Literal.number(7)), "BIGINT")
        return node
    if dialect != "spark":
        return node
    if isinstance(node, exp.TimeToUnix) and not node.args.get("format"):
        micros = exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(node.this.copy(), "TIMESTAMP")])
        return exp.Div(this=micros, expression=exp.Literal.number(1000000))
    if not isinstance(node, exp.DateDiff) or node.args.get("unit") is None:
        return node
    unit = node.args["unit"].name.lower().rstrip("s")
    if unit not in _UNITS:
        return node
    end, start = node.this, node.expression
    if unit in ("day", "week"):  # DuckDB: weeks = day boundaries / 7, truncated
        date = exp.DataType.build("DATE")
        days = exp.Anonymous(
            this="DATEDIFF", expressions=[exp.Cast(this=end.copy(), to=date), exp.Cast(this=start.copy(), to=date)]
        )
        return days if unit == "day" else exp.IntDiv(this=days, expression=exp.Literal.number(7))

    def trunc(value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="DATE_TRUNC", expressions=[exp.Literal.string(unit.upper()), value.copy()])

    return exp.Anonymous(this="TIMESTAMPDIFF", expressions=[exp.var(unit.upper()), trunc(start), trunc(end)])


def _group_by_all(node: exp.Expression, dialect: str) -> exp.Expression:
    """PostgreSQL has no ``GROUP BY ALL``: group by the positions of the non-aggregate select items."""
    if dialect != "postgres" or not isinstance(node, exp.Select):
        return node
    group = node.args.get("group")
    if group is None or not group.args.get("all"):
        return node
    if any(isinstance(e, exp.Star) for e in node.selects):
        return node
    positions = [
        exp.Literal.number(i)
        for i, e in enumerate(node.selects, start=1)
        if not e.find(exp.AggFunc) and not isinstance(e.unalias(), exp.Literal)
    ]
    if positions:
        node.set("group", exp.Group(expressions=positions))
    else:
        node.set("group", None)
    return node


def _aggregates(node: exp.Expression, dialect: str) -> exp.Expression:
    """Quantile / distinct-count spellings the target accepts.

    Spark 4 only takes ``PERCENTILE_CONT ... WITHIN GROUP``; its ``PERCENTILE(x, q)`` is the same
    exact, interpolated quantile. PostgreSQL has no approximate quantile or distinct count: they
    become the exact ones there.
    """
    if dialect == "spark" and isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this.copy(), node.expression.copy()])
    if dialect == "spark" and isinstance(node, exp.PercentileDisc) and node.expression is not None:
        order = exp.Order(expressions=[exp.Ordered(this=node.this.copy(), nulls_first=False)])
        disc = exp.Anonymous(this="PERCENTILE_DISC", expressions=[node.expression.copy()])
        return exp.WithinGroup(this=disc, expression=order)
    if dialect == "postgres" and isinstance(node, exp.ApproxQuantile):
        return exp.PercentileCont(this=node.this.copy(), expression=node.args["quantile"].copy())
    if dialect == "postgres" and isinstance(node, exp.ApproxDistinct):
        return exp.Count(this=exp.Distinct(expressions=[node.this.copy()]))
    return node


def _sum_of_predicate(node: exp.Expression, dialect: str) -> exp.Expression:
    """``sum(x > 0)`` counts in DuckDB; Spark and PostgreSQL cannot sum booleans: cast the predicate."""
    if dialect == "duckdb" or not isinstance(node, exp.Sum):
        return node
    arg = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    if isinstance(arg, exp.Predicate | exp.Connector | exp.Not | exp.Boolean):
        return exp.Sum(this=exp.cast(arg.copy(), "INT"))
    return node


_REWRITES = (_hex_cast, _dates, _group_by_all, _aggregates, _sum_of_predicate)


def _rewrite(node: exp.Expression, dialect: str) -> exp.Expression:
    for rule in _REWRITES:
        node = rule(node, dialect)
    return node


@functools.lru_cache(maxsize=512)
def to_dialect(sql: str, dialect: str) -> str:
    """Translate one DuckDB-dialect statement into ``dialect`` ("spark" or "postgres").

    >>> to_dialect("select cast('0x' || substr(md5(k), 1, 8) as bigint) % 100 from t where a = $a", "spark")
    'SELECT CAST(CONV(SUBSTRING(MD5(k), 1, 8), 16, 10) AS BIGINT) % 100 FROM t WHERE a = :a'
    """
    if dialect == "duckdb":
        return sql
    tree = _parse(sql)
    tree = tree.transform(lambda n: _rewrite(n, dialect))
    if dialect != "postgres":
        return tree.sql(dialect=dialect)
    # psycopg: %(name)s placeholders, every other % doubled. Mark params first, escape, then substitute.
    names: list[str] = []

    def mark(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.this:
            names.append(node.name)
            return exp.column(exp.to_identifier(_PARAM_MARK.format(len(names) - 1), quoted=True))
        return node

    text = tree.transform(mark).sql(dialect="postgres").replace("%", "%%")
    for i, name in enumerate(names):
        text = text.replace(f'"{_PARAM_MARK.format(i)}"', f"%({name})s")
    return text
