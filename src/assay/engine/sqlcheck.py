"""Accept user SQL only as one read-only SELECT, and say which tables and columns it reads.

Metric definitions, contract checks and other SQL that users type go through
:func:`parse_select` before assay runs them. It parses with sqlglot (DuckDB dialect by
default) and rejects anything but a single ``SELECT`` / ``WITH ... SELECT`` /
``UNION``-style query: DML and DDL (also inside CTEs), ``SELECT ... INTO``, ``FOR UPDATE``,
``ATTACH``/``COPY``/``PRAGMA``/``SET``/``INSTALL``/``LOAD``, several statements, and — unless
``allow_table_functions=True`` — table functions and functions that read files or the
environment (``read_csv('/etc/passwd')``, ``FROM '/data/x.parquet'``, ``glob``, ``getenv``,
``query(...)``, ``pg_read_file``...). This is a guard against mistakes and casual abuse,
not a sandbox: run untrusted SQL on a read-only connection or role as well.

Example::

    >>> tree = parse_select("select user_id, sum(amount) from orders group by 1")
    >>> sorted(referenced_columns(tree)), sorted(referenced_tables(tree))
    (['amount', 'user_id'], ['orders'])
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import TokenType

from assay.errors import InvalidInputError

__all__ = ["parse_select", "quote_identifier", "referenced_columns", "referenced_tables", "sql_error"]

# Statements (and clauses) that write, change the session or reach outside the database.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Copy", "Attach", "Detach",
        "Pragma", "Set", "Install", "Use", "Transaction", "Commit", "Rollback", "LoadData", "TruncateTable",
        "Grant", "Revoke", "Into", "Lock", "Export",
    )
    if hasattr(exp, name)  # older sqlglot versions lack a few of these node types
)  # fmt: skip

# Table sources that only generate rows; everything else in FROM that is a function call is rejected.
_SAFE_TABLE_FUNCTIONS: tuple[type[exp.Expression], ...] = (exp.GenerateSeries, exp.Unnest, exp.Explode)

# Functions that read files, other databases, the environment, or change server state.
_UNSAFE_FUNCTIONS = frozenset(
    {
        "glob", "sniff_csv", "query", "query_table", "getenv", "current_setting", "set_config", "setval",
        "nextval", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_sleep", "load_extension",
        "read_text", "read_blob", "dblink", "dblink_exec", "lo_import", "lo_export", "duckdb_secrets",
    }
)  # fmt: skip
_UNSAFE_PREFIXES = (
    "read_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_", "delta_", "pg_read", "pg_ls", "pg_stat_file",
    "lo_", "json_read", "csv_", "ducklake_",
)  # fmt: skip
_PATH_LIKE = re.compile(r"[/\\]|://|\.(csv|tsv|txt|parquet|pq|json|jsonl|ndjson|gz|zst|xlsx|db|duckdb|sqlite|arrow|"
                        r"feather|ipc|avro|orc)$", re.IGNORECASE)  # fmt: skip


class _QuietFallback(logging.Filter):
    """Drop sqlglot's "Falling back to parsing as a 'Command'" warning: such input is rejected anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_QuietFallback())


def sql_error(message: str, sql: str, start: int | None) -> InvalidInputError:
    """An :class:`InvalidInputError` whose message points at ``sql[start]`` (line, column and a caret).

    >>> str(sql_error("unexpected token", "select frm t", 7)).splitlines()[0]
    'unexpected token (line 1, column 8)'
    """
    if start is None or not sql:
        return InvalidInputError(message)
    start = max(0, min(start, len(sql) - 1))
    line_no = sql.count("\n", 0, start) + 1
    line_start = sql.rfind("\n", 0, start) + 1
    line_end = sql.find("\n", start)
    line = sql[line_start : line_end if line_end != -1 else len(sql)]
    col = start - line_start
    return InvalidInputError(f"{message} (line {line_no}, column {col + 1})\n  {line}\n  {' ' * col}^")


def _start(node: exp.Expression) -> int | None:
    """Character offset where ``node`` begins in the parsed text, when sqlglot recorded it."""
    for sub in node.walk():
        meta = sub.meta
        if meta and "start" in meta:
            return int(meta["start"])
    return None


def _offset(sql: str, err: dict[str, object]) -> int | None:
    """Character offset of a sqlglot parse error (its ``line``/``col`` point at the end of the bad token)."""
    line, col = err.get("line"), err.get("col")
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    line_start = 0
    for _ in range(line - 1):
        line_start = sql.find("\n", line_start) + 1
    return line_start + max(col - len(str(err.get("highlight") or " ")), 0)


def _statement_starts(sql: str, dialect: str) -> list[int]:
    """Offsets where each statement's first token begins."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError:
        return []
    starts: list[int] = []
    expect = True
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            expect = True
        elif expect:
            starts.append(token.start)
            expect = False
    return starts


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key.lower()


def _is_unsafe_function(name: str) -> bool:
    return name in _UNSAFE_FUNCTIONS or name.startswith(_UNSAFE_PREFIXES)


def _check_node(node: exp.Expression, sql: str, allow_table_functions: bool) -> None:
    if isinstance(node, _FORBIDDEN_NODES):
        what = "SELECT ... INTO" if isinstance(node, exp.Into) else node.key.upper()
        if isinstance(node, exp.Lock):
            what = "FOR UPDATE / FOR SHARE"
        raise sql_error(f"only a read-only SELECT is allowed; found {what}", sql, _start(node))
    if allow_table_functions:
        return
    if isinstance(node, exp.Table):
        source = node.this
        if not isinstance(source, exp.Identifier):
            if isinstance(source, _SAFE_TABLE_FUNCTIONS):
                return
            name = _function_name(source)
            raise sql_error(
                f"table function '{name}' is not allowed here; register the file with the engine and query it by name",
                sql,
                _start(node),
            )
        for part in node.parts:
            if _PATH_LIKE.search(part.name):
                raise sql_error(
                    f"reading the file '{part.name}' directly is not allowed; register it with the engine first",
                    sql,
                    _start(node),
                )
    elif isinstance(node, exp.Func):
        name = _function_name(node)
        if _is_unsafe_function(name):
            raise sql_error(f"function '{name}' is not allowed in a query", sql, _start(node))


def parse_select(sql: str, *, dialect: str = "duckdb", allow_table_functions: bool = False) -> exp.Expression:
    """Parse ``sql`` and return its sqlglot tree if it is a single read-only SELECT; else raise.

    Raises :class:`~assay.errors.InvalidInputError` with the line, column and a caret under the
    offending token for syntax errors, statements other than SELECT, several statements, and
    (unless ``allow_table_functions``) table functions or file-reading functions.

    >>> parse_select("with t as (select 1 as x) select x from t union all select 2").key
    'union'
    >>> parse_select("drop table orders")
    Traceback (most recent call last):
    ...
    assay.errors.InvalidInputError: only a single read-only SELECT is allowed; found DROP (line 1, column 1)
      drop table orders
      ^
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInputError("SQL must be a non-empty string holding one SELECT statement")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise sql_error(f"SQL syntax error: {err.get('description') or exc}", sql, _offset(sql, err)) from exc
    except SqlglotError as exc:
        raise InvalidInputError(f"SQL syntax error: {exc}") from exc
    if not statements:
        raise InvalidInputError("SQL must hold one SELECT statement; got only comments or semicolons")
    starts = _statement_starts(sql, dialect)
    if len(statements) > 1:
        second = starts[1] if len(starts) > 1 else None
        raise sql_error(f"only a single SELECT statement is allowed; got {len(statements)} statements", sql, second)
    tree = statements[0]
    root = tree.this if isinstance(tree, exp.Subquery) else tree
    if not isinstance(root, exp.Select | exp.SetOperation):
        what = "VALUES" if isinstance(root, exp.Values) else (root.key.upper() if root.key != "command" else "")
        if isinstance(root, exp.Command):
            what = str(root.this).upper()
        raise sql_error(f"only a single read-only SELECT is allowed; found {what}", sql, starts[0] if starts else 0)
    for node in tree.walk():
        _check_node(node, sql, allow_table_functions)
    return tree


def _as_tree(select: str | exp.Expression, dialect: str) -> exp.Expression:
    return parse_select(select, dialect=dialect, allow_table_functions=True) if isinstance(select, str) else select


def referenced_tables(select: str | exp.Expression, *, dialect: str = "duckdb") -> set[str]:
    """Names of the stored tables/views a query reads (CTE names and subqueries excluded).

    Qualified names keep their qualifier (``"sales.orders"``).

    >>> sorted(referenced_tables("with r as (select * from orders) select * from r join users using (id)"))
    ['orders', 'users']
    """
    tree = _as_tree(select, dialect)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        names.add(".".join(part.name for part in table.parts))
    return names


def referenced_columns(select: str | exp.Expression, *, dialect: str = "duckdb") -> set[str]:
    """Names of the columns a query reads from stored tables (not its own aliases or CTE outputs).

    Used to report "column 'x' not found" before a query runs. When a column is unqualified
    and the query joins several sources, it is counted (an over-approximation, never a miss).

    >>> sorted(referenced_columns("select a, b + 1 as c from t where d > 0 order by c"))
    ['a', 'b', 'd']
    """
    tree = _as_tree(select, dialect)
    found: set[str] = set()
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:  # sqlglot cannot build scopes for some exotic trees: fall back to every column
        return {col.name for col in tree.find_all(exp.Column) if col.name}
    for scope in scopes:
        aliases: set[str] = set()
        if isinstance(scope.expression, exp.Select):
            aliases = {e.alias for e in scope.expression.selects if isinstance(e, exp.Alias)}
        derived_only = bool(scope.sources) and all(isinstance(s, Scope) for s in scope.sources.values())
        for col in scope.columns:
            name = col.name
            if not name:
                continue
            if col.table:
                source = scope.sources.get(col.table)
                if isinstance(source, Scope):
                    continue
            elif derived_only or (name in aliases and col.find_ancestor(exp.Alias) is None):
                continue
            found.add(name)
    return found


_BARE = re.compile(r"^[a-z_][a-z0-9_]*$")
# reserved in DuckDB (duckdb_keywords()), plus names PostgreSQL/Spark or sqlglot read as something else
_KEYWORDS = frozenset(
    """
    all analyse analyze and anti any array as asc asof asymmetric at authorization binary both by case
    cast check collate collation column columns concurrently constraint create cross default deferrable
    desc describe distinct do else end except false fetch for foreign freeze from full generated glob
    group having ilike in initially inner intersect into is isnull join lambda lateral leading left like
    limit map natural not notnull null offset on only or order outer overlaps pivot placing positional
    primary qualify references returning right select semi show similar some struct summarize symmetric
    table tablesample then to trailing true try_cast tuple union unique unpivot using variadic verbose
    when where window with user current_date current_time current_timestamp current_user session_user
    timestamp date time interval
    """.upper().split()
)


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB identifier, double-quoted only when it must be (case, symbols, keywords).

    >>> quote_identifier("user_id"), quote_identifier("User Id"), quote_identifier("select")
    ('user_id', '"User Id"', '"select"')
    """
    if _BARE.match(name) and name.upper() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'
