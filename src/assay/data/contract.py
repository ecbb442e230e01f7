"""Data contracts: what a table must satisfy, written in YAML or Python, checked where the data lives.

A contract lists columns with their rules (type, not_null, unique, min/max, allowed values, regex,
foreign key), row-count bounds, freshness, and custom SQL checks whose returned rows are failures::

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
        sql: "select * from orders where status = 'paid' and amount = 0"

:meth:`Contract.validate` computes every column check's failing count in ONE aggregate scan, then
runs one small query per failed check for a sample of failing rows (see :mod:`assay.data._checks`).
Severity is ``error`` (default) or ``warn``; a result passes unless an error-severity check fails.

Example::

    contract = Contract.from_yaml("contracts/orders.yaml")
    result = contract.validate("orders.parquet", references={"customers": "customers.parquet"})
    print(result.summary())
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from assay._yaml import load_yaml
from assay.data._checks import CheckResult, ValidationResult, run_contract
from assay.engine import Engine
from assay.engine._sql import check_name
from assay.engine.sqlcheck import parse_select
from assay.errors import InvalidInputError

__all__ = [
    "CheckResult",
    "ColumnRule",
    "Contract",
    "Freshness",
    "RowCount",
    "SqlCheck",
    "ValidationResult",
    "parse_duration",
]

SEVERITIES = ("error", "warn")
TYPES = ("integer", "float", "number", "string", "boolean", "date", "timestamp")
_TOP_KEYS = ("dataset", "description", "columns", "rows", "freshness", "checks")
_COLUMN_KEYS = ("type", "not_null", "unique", "min", "max", "in", "regex", "references", "severity", "description")
_ROWS_KEYS = ("min", "max", "severity")
_FRESH_KEYS = ("column", "max_age", "severity")
_CHECK_KEYS = ("name", "sql", "severity", "description")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> _dt.timedelta:
    """``"30m"``, ``"12h"``, ``"1d"``, ``"2w"`` (also ``"45s"``), a number of seconds, or a timedelta.

    >>> parse_duration("12h")
    datetime.timedelta(seconds=43200)
    """
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    else:
        raise InvalidInputError(f"max_age must look like 30m, 12h, 1d or 2w (or a number of seconds); got {value!r}")
    if seconds <= 0:
        raise InvalidInputError(f"max_age must be positive; got {value!r}")
    return _dt.timedelta(seconds=seconds)


def _severity(value: object, where: str) -> str:
    if value not in SEVERITIES:
        raise InvalidInputError(f"{where}: severity must be 'error' or 'warn'; got {value!r}")
    return str(value)


def _check_keys(d: object, allowed: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise InvalidInputError(f"{where} must be a mapping ({', '.join(allowed)}); got {type(d).__name__}")
    unknown = [str(k) for k in d if k not in allowed]
    if unknown:
        raise InvalidInputError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; allowed: {', '.join(allowed)}"
        )
    return d


def _bound(value: object, where: str) -> Any:
    if value is None or isinstance(value, _dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):  # an ISO date / timestamp for a date or timestamp column
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInputError(f"{where} must be a number, a date or an ISO timestamp; got {value!r}")


@dataclass(frozen=True)
class ColumnRule:
    """The rules for one column; ``allowed`` is the YAML ``in:`` list, ``references`` is ``"table.column"``."""

    name: str
    type: str | None = None
    not_null: bool = False
    unique: bool = False
    min: Any = None
    max: Any = None
    allowed: tuple[Any, ...] | None = None
    regex: str | None = None
    references: str | None = None
    severity: str = "error"

    def __post_init__(self) -> None:
        where = f"column '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError(f"a column rule needs a column name; got {self.name!r}")
        if self.type is not None and self.type not in TYPES:
            raise InvalidInputError(f"{where}: type must be one of {', '.join(TYPES)}; got {self.type!r}")
        for flag in ("not_null", "unique"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidInputError(f"{where}: {flag} must be true or false; got {getattr(self, flag)!r}")
        object.__setattr__(self, "min", _bound(self.min, f"{where}: min"))
        object.__setattr__(self, "max", _bound(self.max, f"{where}: max"))
        if self.allowed is not None:
            if isinstance(self.allowed, str | bytes) or not isinstance(self.allowed, Sequence | set | frozenset):
                raise InvalidInputError(f"{where}: 'in' must be a list of allowed values; got {self.allowed!r}")
            if not self.allowed:
                raise InvalidInputError(f"{where}: 'in' must list at least one allowed value")
            object.__setattr__(self, "allowed", tuple(self.allowed))
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except (re.error, TypeError) as exc:
                raise InvalidInputError(f"{where}: regex {self.regex!r} does not compile: {exc}") from exc
        if self.references is not None:
            parts = str(self.references).rsplit(".", 1)
            if len(parts) != 2 or not all(parts):
                raise InvalidInputError(f"{where}: references must be 'table.column'; got {self.references!r}")
        object.__setattr__(self, "severity", _severity(self.severity, where))

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any] | None) -> ColumnRule:
        """A rule from the YAML mapping of column ``name`` (keys: type, not_null, unique, min, max, in, regex...)."""
        d = _check_keys(d or {}, _COLUMN_KEYS, f"column '{name}'")
        kwargs = {k: v for k, v in d.items() if k not in ("in", "description")}
        return cls(name=str(name), allowed=d.get("in"), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("type", "not_null", "unique", "min", "max", "allowed", "regex", "references", "severity"):
            value = getattr(self, key)
            if value is not None and value is not False and not (key == "severity" and value == "error"):
                out["in" if key == "allowed" else key] = list(value) if key == "allowed" else value
        return out


@dataclass(frozen=True)
class RowCount:
    """Bounds on the number of rows (inclusive)."""

    min: int | None = None
    max: int | None = None
    severity: str = "error"

    def __post_init__(self) -> None:
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidInputError(f"rows: {key} must be a non-negative integer; got {value!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidInputError(f"rows: min ({self.min}) is larger than max ({self.max})")
        object.__setattr__(self, "severity", _severity(self.severity, "rows"))


@dataclass(frozen=True)
class Freshness:
    """The newest value of ``column`` (a date or timestamp; naive ones are read as UTC) is at most ``max_age`` old."""

    column: str
    max_age: _dt.timedelta | str | float
    severity: str = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise InvalidInputError("freshness: column must name a date or timestamp column")
        object.__setattr__(self, "max_age", parse_duration(self.max_age))
        object.__setattr__(self, "severity", _severity(self.severity, "freshness"))


@dataclass(frozen=True)
class SqlCheck:
    """A custom check: a read-only SELECT whose returned rows are the failures.

    The SQL is DuckDB-dialect; the contract's ``dataset`` name in it refers to the validated source.
    """

    name: str
    sql: str
    severity: str = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError("every SQL check needs a name")
        try:
            parse_select(self.sql)
        except InvalidInputError as exc:
            raise InvalidInputError(f"SQL check '{self.name}': {exc}") from exc
        object.__setattr__(self, "severity", _severity(self.severity, f"SQL check '{self.name}'"))


@dataclass(frozen=True)
class Contract:
    """What a dataset must satisfy; build it from YAML, a dict, or these dataclasses.

    Example::

        Contract(dataset="orders",
                 columns=[ColumnRule("id", type="integer", not_null=True, unique=True),
                          ColumnRule("amount", min=0)],
                 rows=RowCount(min=1), freshness=Freshness("created_at", "1d"))
    """

    dataset: str | None = None
    columns: tuple[ColumnRule, ...] = ()
    rows: RowCount | None = None
    freshness: Freshness | None = None
    checks: tuple[SqlCheck, ...] = ()
    description: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.dataset is not None:
            check_name(self.dataset, "dataset name")
        cols = self.columns
        if isinstance(cols, Mapping):
            cols = [c if isinstance(c, ColumnRule) else ColumnRule.from_dict(n, c) for n, c in cols.items()]
        cols = tuple(cols)
        if not all(isinstance(c, ColumnRule) for c in cols):
            raise InvalidInputError("columns must be ColumnRule objects (or a mapping of name -> rules)")
        names = [c.name for c in cols]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidInputError(f"column(s) {', '.join(dup)} listed twice in the contract")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "checks", tuple(self.checks))
        check_names = [c.name for c in self.checks]
        if len(set(check_names)) != len(check_names):
            raise InvalidInputError("SQL check names must be unique")
        if self.checks and self.dataset is None:
            raise InvalidInputError("SQL checks need 'dataset:' naming the table their SQL reads (the validated data)")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike[str]) -> Contract:
        """A contract from a YAML file path or YAML text."""
        data = load_yaml(path_or_text, "the contract")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Contract:
        """A contract from a mapping shaped like the YAML (see the module docs); unknown keys are refused."""
        d = _check_keys(d, _TOP_KEYS, "the contract")
        columns = d.get("columns") or {}
        if not isinstance(columns, Mapping):
            raise InvalidInputError("columns must map each column name to its rules, e.g. id: {type: integer}")
        rows = d.get("rows")
        fresh = d.get("freshness")
        checks = d.get("checks") or []
        if not isinstance(checks, list):
            raise InvalidInputError("checks must be a list of {name, sql, severity} mappings")
        return cls(
            dataset=d.get("dataset"),
            columns=tuple(ColumnRule.from_dict(str(n), c) for n, c in columns.items()),
            rows=RowCount(**_check_keys(rows, _ROWS_KEYS, "rows")) if rows is not None else None,
            freshness=Freshness(**_check_keys(fresh, _FRESH_KEYS, "freshness")) if fresh is not None else None,
            checks=tuple(_sql_check(c) for c in checks),
            description=d.get("description"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The contract as a mapping :meth:`from_dict` reads back (durations in seconds)."""
        out: dict[str, Any] = {}
        if self.dataset:
            out["dataset"] = self.dataset
        if self.description:
            out["description"] = self.description
        out["columns"] = {c.name: c.to_dict() for c in self.columns}
        if self.rows:
            out["rows"] = {k: getattr(self.rows, k) for k in _ROWS_KEYS if getattr(self.rows, k) is not None}
        if self.freshness:
            f = self.freshness
            out["freshness"] = {"column": f.column, "max_age": f.max_age.total_seconds(), "severity": f.severity}
        if self.checks:
            out["checks"] = [{"name": c.name, "sql": c.sql, "severity": c.severity} for c in self.checks]
        return out

    def to_yaml(self) -> str:
        """The contract as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def column(self, name: str) -> ColumnRule:
        for c in self.columns:
            if c.name == name:
                return c
        raise InvalidInputError(
            f"no column '{name}' in the contract; columns: {', '.join(c.name for c in self.columns)}"
        )

    # -- validation --------------------------------------------------------------------------
    def validate(
        self,
        source: object,
        *,
        engine: Engine | None = None,
        references: Mapping[str, object] | None = None,
        key_columns: Sequence[str] | None = None,
        sample: int = 5,
        now: _dt.datetime | None = None,
    ) -> ValidationResult:
        """Check ``source`` against the contract; never raises for data that breaks it.

        ``source``: a path/glob/folder, a DataFrame, an Arrow table, or with ``engine=`` a table name
        or SELECT. ``references``: tables named in ``references:`` rules (a DataFrame, path, or a table
        name the engine sees), else looked up on the engine. ``key_columns``: columns shown with each
        failing sample row (default: the contract's unique columns). ``sample``: failing rows kept per
        failed check. ``now``: the reference time for freshness (default: the current UTC time).
        """
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise InvalidInputError(f"sample must be a non-negative integer; got {sample!r}")
        if now is not None and not isinstance(now, _dt.datetime):
            raise InvalidInputError(f"now must be a datetime; got {type(now).__name__}")
        return run_contract(
            self, source, engine=engine, references=references or {}, key_columns=key_columns, sample=sample, now=now
        )


def _sql_check(d: object) -> SqlCheck:
    d = _check_keys(d, _CHECK_KEYS, "a SQL check")
    missing = [k for k in ("name", "sql") if not d.get(k)]
    if missing:
        raise InvalidInputError(f"a SQL check is missing {', '.join(missing)}: give each check a name and a sql")
    return SqlCheck(name=str(d["name"]), sql=str(d["sql"]), severity=d.get("severity", "error"))
