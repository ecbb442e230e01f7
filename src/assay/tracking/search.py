"""Search runs with the filter language of :mod:`assay.tracking.filters`, as parameterised SQL.

Every comparison on a metric, param or tag becomes
``runs.id IN (SELECT run_id FROM <table> WHERE key = :k AND value <op> :v)``, so the
``(key, value)`` indexes of ``latest_metrics`` and ``params`` answer it, and a run without the
key never matches a comparison (but matches its ``not``). Metric NaN is stored as NULL and never
matches a comparison. Params and tags are text: a string literal compares as text, a number
literal compares numerically with values that are well-formed numbers (JSON number syntax:
``31``, ``31.0``, ``-1e-3``; not ``031``, ``.5``, ``inf``), via a cast that cannot fail on
PostgreSQL (regex-guarded ``NUMERIC`` cast) or SQLite (``json_valid``-guarded ``REAL`` cast).
``like`` is case-sensitive on both (``GLOB`` on SQLite), ``ilike`` is not; ``\\`` escapes.

Example::

    with engine.connect() as conn:
        df = search_runs(conn, project_ids=[1], filter="metrics.auc > 0.9 and params.model = 'lgbm'",
                         order_by=["metrics.auc desc"], limit=20)
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Connection,
    Dialect,
    Float,
    FromClause,
    Integer,
    Numeric,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from assay.errors import InvalidInputError
from assay.store.models import Base
from assay.tracking.filters import (
    COMPARE_OPS,
    LIKE_OPS,
    TIME_ATTRIBUTES,
    And,
    Comparison,
    Node,
    Not,
    Or,
    OrderBy,
    Scalar,
    iso_to_ms,
    parse_filter,
    parse_order_by,
)

__all__ = ["BASE_COLUMNS", "compile_filter", "search_runs"]

BASE_COLUMNS = ("run_id", "project", "name", "status", "start_time", "end_time", "user")

_RUNS: Table = Base.metadata.tables["runs"]
_PROJECTS: Table = Base.metadata.tables["projects"]
_TABLES: dict[str, Table] = {
    "metrics": Base.metadata.tables["latest_metrics"],
    "params": Base.metadata.tables["params"],
    "tags": Base.metadata.tables["tags"],
}
_ATTRIBUTE_COLUMNS = {
    "status": _RUNS.c.status,
    "name": _RUNS.c.name,
    "run_id": _RUNS.c.id,
    "start_time": _RUNS.c.start_ms,
    "end_time": _RUNS.c.end_ms,
    "user": _RUNS.c.user,
}
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# JSON number syntax (what SQLite's json_valid/json_type accept), exponent capped at 4 digits and
# text at 1000 characters so PostgreSQL's NUMERIC input can never overflow.
_PG_NUMBER_RE = r"^[ \t\n\r]*-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]{1,4})?[ \t\n\r]*$"
_MAX_NUMBER_TEXT = 1000
_RECENT_WINDOW = 500  # newest runs probed first for a default-order top-k search
_MAX_INLINE_IDS = 500  # above this, detail queries select ids with a subquery instead of a bound list


class _NumberType(TypeDecorator[Any]):
    """Float on SQLite, exact NUMERIC elsewhere (binds ``Decimal(repr(x))``)."""

    impl = Float
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Float() if dialect.name == "sqlite" else Numeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "sqlite":
            return None if value is None else float(value)
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class _SafeNumber(FunctionElement[Any]):
    """The text column as a number when it is a well-formed number, else NULL; never errors."""

    name = "assay_safe_number"
    inherit_cache = True
    type = _NumberType()


@compiles(_SafeNumber)
def _safe_number_default(element: _SafeNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    guard = and_(func.length(arg) <= _MAX_NUMBER_TEXT, arg.regexp_match(_PG_NUMBER_RE))
    return compiler.process(case((guard, cast(arg, Numeric())), else_=None), **kw)


@compiles(_SafeNumber, "sqlite")
def _safe_number_sqlite(element: _SafeNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    is_number = and_(
        func.json_type(arg).in_(["integer", "real"]),
        func.length(arg) <= _MAX_NUMBER_TEXT,
        not_(arg.bool_op("GLOB")("*[eE]*[0-9][0-9][0-9][0-9][0-9]*")),
    )
    # Nested CASE: json_type() raises on malformed JSON, so it only runs once json_valid() passed.
    expr = case((func.json_valid(arg) == 1, case((is_number, cast(arg, Float())), else_=None)), else_=None)
    return compiler.process(expr, **kw)


class _CaseSensitiveLike(FunctionElement[bool]):
    """``col LIKE pattern ESCAPE '\\'``, compiled to ``GLOB`` on SQLite (whose LIKE ignores case)."""

    name = "assay_like"
    inherit_cache = True
    type = Boolean()


@compiles(_CaseSensitiveLike)
def _like_default(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    col, pattern, _glob = list(element.clauses)
    return "(" + compiler.process(col.like(pattern, escape="\\"), **kw) + ")"


@compiles(_CaseSensitiveLike, "sqlite")
def _like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    col, _pattern, glob = list(element.clauses)
    return "(" + compiler.process(col.bool_op("GLOB")(glob), **kw) + ")"


def _like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, ``\\`` escapes) to the equivalent GLOB pattern."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "\\")
            out.append(f"[{ch}]" if ch in "*?[" else ch)
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
    return "".join(out)


def _like(col: ColumnElement[Any], op: str, pattern: str) -> ColumnElement[bool]:
    if op.endswith("ilike"):
        expr: ColumnElement[bool] = col.ilike(literal(pattern, String()), escape="\\")
    else:
        expr = _CaseSensitiveLike(col, literal(pattern, String()), literal(_like_to_glob(pattern), String()))
    return not_(expr) if op.startswith("not") else expr


def compile_filter(node: Node | None, *, correlated: bool = False) -> ColumnElement[bool]:
    """Compile a parsed filter into a boolean SQL expression over the ``runs`` table.

    Every literal becomes a bound parameter; nothing from the filter text is formatted into SQL.
    Each metric/param/tag comparison is ``runs.id IN (matching run ids)`` by default (best when the
    filter is selective), or with ``correlated=True`` an ``EXISTS`` probe per run (best when only a
    few recent runs need checking).

    Example::

        >>> cond = compile_filter(parse_filter("params.model = 'lgbm' and metrics.auc > 0.9"))
        >>> stmt = select(runs.c.id).where(cond)
    """
    if node is None:
        return true()
    if isinstance(node, And):
        return and_(*(compile_filter(operand, correlated=correlated) for operand in node.operands))
    if isinstance(node, Or):
        return or_(*(compile_filter(operand, correlated=correlated) for operand in node.operands))
    if isinstance(node, Not):
        return not_(compile_filter(node.operand, correlated=correlated))
    if node.entity == "attributes":
        return _attribute_condition(node)
    table = _TABLES[node.entity]
    ids = select(table.c.run_id).where(table.c.key == node.key)
    negate = False
    if node.op in ("is null", "is not null"):
        if node.entity == "metrics":  # a NaN (NULL) metric counts as absent
            ids = ids.where(table.c.value.is_not(None))
        negate = node.op == "is null"
    else:
        ids = ids.where(_value_condition(table.c.value, node))
    if correlated:  # a primary-key probe per candidate run instead of materialising every match
        member: ColumnElement[bool] = exists(ids.where(table.c.run_id == _RUNS.c.id))
    else:
        member = _RUNS.c.id.in_(ids)
    return not_(member) if negate else member


def _value_condition(col: ColumnElement[Any], node: Comparison) -> ColumnElement[bool]:
    """Condition on a metric, param or tag ``value`` column."""
    if node.op in LIKE_OPS:
        return _like(col, node.op, str(node.value))
    if node.op in ("in", "not in"):
        assert isinstance(node.value, tuple)
        cond = or_(*(_scalar_condition(col, node.entity, "=", v) for v in node.value))
        return not_(cond) if node.op == "not in" else cond
    assert node.op in COMPARE_OPS and not isinstance(node.value, tuple | None)
    return _scalar_condition(col, node.entity, node.op, node.value)


def _scalar_condition(col: ColumnElement[Any], entity: str, op: str, value: Scalar) -> ColumnElement[bool]:
    if entity == "metrics":
        return _OPS[op](col, literal(float(value), Float()))
    if isinstance(value, bool):  # Python logs True as "True": compare case-insensitively
        return _OPS[op](func.lower(col), literal("true" if value else "false", String()))
    if isinstance(value, int | float):
        return _OPS[op](_SafeNumber(col), value)
    return _OPS[op](col, literal(value, String()))


def _attribute_condition(node: Comparison) -> ColumnElement[bool]:
    col = _ATTRIBUTE_COLUMNS[node.key]
    if node.op == "is null":
        return col.is_(None)
    if node.op == "is not null":
        return col.is_not(None)
    if node.op in LIKE_OPS:
        return _like(col, node.op, str(node.value))

    def bind(value: Scalar) -> Any:
        if node.key not in TIME_ATTRIBUTES:
            return literal(value, String())
        ms = iso_to_ms(value) if isinstance(value, str) else value
        if isinstance(ms, float) and not (ms.is_integer() and abs(ms) < 2**62):
            return literal(ms, Float())  # fractional, huge or infinite: compare as a float
        return int(ms)

    if node.op in ("in", "not in"):
        assert isinstance(node.value, tuple)
        cond = col.in_([bind(v) for v in node.value])
        return not_(cond) if node.op == "not in" else cond
    assert not isinstance(node.value, tuple | None)
    return _OPS[node.op](col, bind(node.value))


def _order_clauses(items: Sequence[OrderBy]) -> tuple[FromClause, list[UnaryExpression[Any]]]:
    """The FROM clause (runs ⋈ projects, plus one outer join per key ordered by) and ORDER BY terms."""
    from_: FromClause = _RUNS.join(_PROJECTS, _PROJECTS.c.id == _RUNS.c.project_id)
    terms: list[UnaryExpression[Any]] = []
    for index, item in enumerate(items):

        def direction(expr: ColumnElement[Any], descending: bool = item.descending) -> UnaryExpression[Any]:
            return expr.desc() if descending else expr.asc()

        if item.entity == "attributes":
            terms.append(direction(_ATTRIBUTE_COLUMNS[item.key]).nulls_last())
            continue
        alias = _TABLES[item.entity].alias(f"order_{index}")
        from_ = from_.outerjoin(alias, and_(alias.c.run_id == _RUNS.c.id, alias.c.key == item.key))
        if item.entity == "metrics":
            terms.append(direction(alias.c.value).nulls_last())
        else:  # numbers numerically first, then the other values as text; missing last
            terms.append(direction(_SafeNumber(alias.c.value)).nulls_last())
            terms.append(direction(alias.c.value).nulls_last())
    terms += [_RUNS.c.start_ms.desc(), _RUNS.c.id.desc()]  # the (project, start, id) index, read backwards
    return from_, terms


def _check_arguments(project_ids: Any, filter: Any, order_by: Any, limit: Any, offset: Any) -> None:
    """Reject wrongly typed arguments with one message shape (scikit-learn style)."""
    if project_ids is not None and (
        not isinstance(project_ids, list | tuple)
        or not all(isinstance(p, int) and not isinstance(p, bool) for p in project_ids)
    ):
        raise InvalidInputError(
            f"The 'project_ids' parameter of search_runs must be a list of ints or None. Got {project_ids!r}."
        )
    if filter is not None and not isinstance(filter, str):
        raise InvalidInputError(f"The 'filter' parameter of search_runs must be a str or None. Got {filter!r}.")
    if order_by is not None and (
        not isinstance(order_by, list | tuple) or not all(isinstance(o, str) for o in order_by)
    ):
        raise InvalidInputError(
            "The 'order_by' parameter of search_runs must be a list of str such as ['metrics.auc desc']. "
            f"Got {order_by!r}."
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise InvalidInputError(f"The 'limit' parameter of search_runs must be a positive int. Got {limit!r}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"The 'offset' parameter of search_runs must be an int >= 0. Got {offset!r}.")


def search_runs(
    conn: Connection,
    *,
    project_ids: list[int] | None,
    filter: str | None = None,
    order_by: list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> pd.DataFrame:
    """Runs matching ``filter`` as a DataFrame: one row per run, params/metrics/tags as columns.

    Columns: ``run_id, project, name, status, start_time, end_time`` (UTC datetimes), ``user``, then
    ``params.<k>`` (strings), ``metrics.<k>`` (floats, NaN when NaN or absent) and ``tags.<k>``,
    sorted by key within each group. Default order: newest start first, then run id (descending).
    ``project_ids=None`` searches every project. Raises ``FilterSyntaxError`` on a malformed
    filter or order_by item and ``InvalidInputError`` on a bad ``limit``/``offset``.

    Example::

        >>> df = search_runs(conn, project_ids=[1], filter="metrics.auc > 0.9", order_by=["metrics.auc desc"])
        >>> df[["run_id", "metrics.auc"]].head()
    """
    _check_arguments(project_ids, filter, order_by, limit, offset)
    if project_ids is not None and not project_ids:
        parse_filter(filter)  # still reject a malformed filter
        return _frame([], {})
    projects = len(project_ids) if project_ids is not None else 0
    plan = _plan(filter, tuple(order_by or ()), limit, offset, projects, _RECENT_WINDOW)
    params: dict[str, Any] = {f"project_{i}": pid for i, pid in enumerate(project_ids or ())}
    rows: Sequence[Any] = []
    if plan.probe is not None:
        # Top-k in the default order (newest first): probe only the newest runs, one EXISTS lookup
        # each. If enough of them match they are exactly the answer, since every run left out
        # started earlier than all of them; otherwise (or when there are fewer runs than the
        # window, so the cutoff is NULL) fall back to the IN form.
        rows = _run(conn, plan.probe, params)
    if len(rows) < (limit or 0) or plan.probe is None:
        rows = _run(conn, plan.main, params)
    if not rows:
        return _frame([], {})
    ids = [row[0] for row in rows]
    if len(ids) <= _MAX_INLINE_IDS:
        found = _run(conn, _details_by_ids(len(ids)), {f"id_{i}": run_id for i, run_id in enumerate(ids)})
    else:
        found = _run(conn, plan.details_by_query, params)
    details: dict[str, dict[str, dict[str, Any]]] = {entity: {} for entity in _TABLES}
    for entity, run_id, key, number, text in found:
        details[entity].setdefault(key, {})[run_id] = number if entity == "metrics" else text
    return _frame(rows, details)


class _Plan(NamedTuple):
    """The statements one search shape needs, built once: project ids and run ids are bound at execution."""

    main: Select[Any]
    probe: Select[Any] | None
    details_by_ids: None  # built per id count: see _details_by_ids
    details_by_query: CompoundSelect[Any]


@functools.lru_cache(maxsize=256)
def _plan(
    filter: str | None, order_by: tuple[str, ...], limit: int | None, offset: int, projects: int, window: int
) -> _Plan:
    """Parse and compile a search once per shape; SQLAlchemy then reuses its compiled SQL from its cache."""
    node = parse_filter(filter)
    condition = compile_filter(node)
    items = [parse_order_by(item) for item in order_by]
    from_, terms = _order_clauses(items)
    in_projects = (  # one named parameter per project (plans are cached per project count)
        _RUNS.c.project_id.in_([bindparam(f"project_{i}", 0, type_=Integer()) for i in range(projects)])
        if projects
        else true()
    )

    def matching(*columns: Any, where: ColumnElement[bool] = condition) -> Select[Any]:
        stmt = select(*columns).select_from(from_).where(where, in_projects)
        return stmt.order_by(*terms).limit(limit).offset(offset or None)

    base_columns = (
        _RUNS.c.id,
        _PROJECTS.c.name.label("project"),
        _RUNS.c.name,
        _RUNS.c.status,
        _RUNS.c.start_ms,
        _RUNS.c.end_ms,
        _RUNS.c.user,
    )
    probe = None
    if node is not None and not items and limit is not None:
        size = max(window, 20 * (limit + offset))
        cutoff = (
            select(_RUNS.c.start_ms)
            .where(in_projects)
            .order_by(_RUNS.c.start_ms.desc())
            .limit(1)
            .offset(size - 1)
            .scalar_subquery()
        )
        probe = matching(*base_columns, where=and_(_RUNS.c.start_ms >= cutoff, compile_filter(node, correlated=True)))
    return _Plan(
        main=matching(*base_columns),
        probe=probe,
        details_by_ids=None,
        details_by_query=_details(select(matching(_RUNS.c.id).subquery().c.id)),
    )


@functools.lru_cache(maxsize=64)
def _details_by_ids(count: int) -> CompoundSelect[Any]:
    return _details([bindparam(f"id_{i}", "", type_=String()) for i in range(count)])


class _Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # bind names in order (qmark/format paramstyles), None for named styles
    defaults: dict[str, Any]  # the filter's literal values, already processed for the driver
    processors: dict[str, Callable[[Any], Any]]


# (id of the statement, dialect) -> (the statement itself, kept alive so its id is never reused; compiled form)
_COMPILED: dict[tuple[int, str], tuple[Any, _Compiled]] = {}


def _compiled(stmt: Any, dialect: Dialect) -> _Compiled:
    """Compile ``stmt`` for ``dialect`` once; later searches of the same shape skip SQLAlchemy entirely."""
    key = (id(stmt), dialect.name)
    entry = _COMPILED.get(key)
    if entry is not None:
        return entry[1]
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = dict(compiled._bind_processors)  # the driver-side conversion of each bind (e.g. Decimal)
    defaults = {
        name: processors[name](value) if name in processors and value is not None else value
        for name, value in compiled.params.items()
    }
    positional = dialect.paramstyle in ("qmark", "format", "numeric")
    positions = tuple(compiled.positiontup or ()) if positional else None
    found = _Compiled(compiled.string, positions, defaults, processors)
    if len(_COMPILED) > 2048:
        _COMPILED.clear()
    _COMPILED[key] = (stmt, found)
    return found


def _run(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """Execute a planned statement straight on the DBAPI cursor (same connection and transaction)."""
    c = _compiled(stmt, conn.dialect)
    values = dict(c.defaults)
    for name, value in params.items():
        proc = c.processors.get(name)
        values[name] = proc(value) if proc is not None and value is not None else value
    bound: Any = tuple(values[name] for name in c.positions) if c.positions is not None else values
    cursor = conn.connection.cursor()
    try:
        cursor.execute(c.sql, bound)
        return cursor.fetchall()
    finally:
        cursor.close()


def _details(id_set: Any) -> CompoundSelect[Any]:
    """One round trip for the metrics (as numbers), params and tags (as text) of the runs in ``id_set``."""
    metrics = _TABLES["metrics"]
    parts = [
        select(
            literal("metrics").label("entity"),
            metrics.c.run_id,
            metrics.c.key,
            metrics.c.value.label("number"),
            cast(null(), Text).label("text"),
        ).where(metrics.c.run_id.in_(id_set))
    ]
    parts += [
        select(literal(entity), t.c.run_id, t.c.key, cast(null(), Float), cast(t.c.value, Text)).where(
            t.c.run_id.in_(id_set)
        )
        for entity, t in _TABLES.items()
        if entity != "metrics"
    ]
    return union_all(*parts)


_NAT = np.iinfo(np.int64).min  # NaT as datetime64


def _text_column() -> Callable[[list[Any]], Any]:
    """How a text column is built: straight into pandas' Arrow-backed ``str`` array when that is what this
    pandas infers for strings (pandas 3; half the cost of letting it infer), else a plain list."""
    try:
        dtype = pd.StringDtype("pyarrow", na_value=np.nan)
        if pd.Series(["a"]).dtype != dtype:
            return list
        pd.arrays.ArrowStringArray(pa.array(["a", None], pa.large_string()), dtype=dtype)
    except (TypeError, ValueError, ImportError, AttributeError):  # pandas 2.x: keep the inference path
        return list

    def build(values: list[Any]) -> Any:
        return pd.arrays.ArrowStringArray(pa.array(values, pa.large_string()), dtype=dtype)

    return build


_TEXT = _text_column()


def _frame(rows: Sequence[Any], details: dict[str, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    """Assemble the result: base columns, then params, metrics, tags columns sorted by key."""
    ids = [row[0] for row in rows]

    def times(index: int) -> pd.DatetimeIndex:
        ms = np.array([_NAT if row[index] is None else row[index] for row in rows], dtype=np.int64)
        return pd.DatetimeIndex(ms.view("datetime64[ms]")).tz_localize("UTC")

    data: dict[str, Any] = {
        "run_id": _TEXT(ids),
        "project": _TEXT([row[1] for row in rows]),
        "name": _TEXT([row[2] for row in rows]),
        "status": _TEXT([row[3] for row in rows]),
        "start_time": times(4),
        "end_time": times(5),
        "user": _TEXT([row[6] for row in rows]),
    }
    for entity in ("params", "metrics", "tags"):
        for key, by_run in sorted(details.get(entity, {}).items()):
            if entity == "metrics":
                data[f"{entity}.{key}"] = np.array(
                    [math.nan if (v := by_run.get(run_id)) is None else v for run_id in ids], dtype=np.float64
                )
            else:
                data[f"{entity}.{key}"] = _TEXT([by_run.get(run_id) for run_id in ids])
    frame = pd.DataFrame(data, copy=False)
    text_columns = [c for c, t in frame.dtypes.items() if t is np.dtype(object) and not c.startswith("metrics.")]
    if text_columns:  # all-missing columns (or no rows) infer object: make them strings like the rest
        frame[text_columns] = frame[text_columns].astype("str")
    return frame
