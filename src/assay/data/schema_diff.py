"""What changed between two versions of a table's schema, and whether it breaks the readers.

:func:`schema_diff` compares two schemas — each a data source (anything :func:`~assay.data.sources.bind`
accepts), a ``{column: type}`` dict or a pyarrow Schema — and lists the changes:

* ``added`` — a new column: not breaking, unless it is declared ``NOT NULL`` (writers must now supply it);
* ``removed`` — breaking (readers that select it fail);
* ``retyped`` — widening (``int32 → int64``, ``float32 → float64``, ``int → float``, ``int → decimal``
  with room, longer ``varchar``, ``date → timestamp``) is not breaking; narrowing, string ↔ number,
  a time-zone change and anything else is;
* ``renamed`` — a *suggestion*: a removed and an added column of the same type whose names are similar
  (difflib ratio ≥ 0.6), or — when both sides are data — whose row count, null count, min and max are
  identical. Breaking (readers of the old name fail); ``detail`` gives the reason;
* ``nullability`` — declared (``"BIGINT NOT NULL"`` in a dict, ``nullable=False`` in an Arrow schema):
  becoming nullable is breaking; observed (data on both sides): nulls that were never there before are
  reported as a non-breaking warning, since an engine schema does not say whether nulls are allowed;
* ``reordered`` — the shared columns appear in another order (not breaking for readers by name).

Type names are compared by meaning across engines: ``BIGINT`` (DuckDB), ``bigint`` (PostgreSQL, Spark),
``int64`` (Arrow, pandas) are the same type. In a dict, ``int8``…``int64`` follow Arrow/numpy (bits).

Example::

    diff = schema_diff("orders_v1.parquet", "orders_v2.parquet")
    if diff.breaking:
        print(diff.summary())
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa

from assay.data.sources import Bound, bind
from assay.engine import Engine
from assay.engine.sqlcheck import quote_identifier as quote
from assay.errors import InvalidInputError
from assay.results import ResultMixin

__all__ = ["SchemaChange", "SchemaDiff", "schema_diff"]

_NAME_SIMILARITY = 0.6
_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19, 128: 39}
_MANTISSA = {16: 11, 32: 24, 64: 53}
_TS_UNITS = {"s": 0, "ms": 1, "us": 2, "ns": 3}
_INTS = {
    "tinyint": 8, "int1": 8, "byte": 8, "int8": 8, "smallint": 16, "int2": 16, "short": 16, "int16": 16,
    "integer": 32, "int": 32, "int4": 32, "signed": 32, "int32": 32, "serial": 32, "bigint": 64, "long": 64,
    "int64": 64, "bigserial": 64, "hugeint": 128, "int128": 128,
}  # fmt: skip
_UINTS = {
    "utinyint": 8, "uint8": 8, "usmallint": 16, "uint16": 16, "uinteger": 32, "uint32": 32, "ubigint": 64,
    "uint64": 64, "uhugeint": 128, "uint128": 128,
}  # fmt: skip
_FLOATS = {
    "halffloat": 16, "float16": 16, "real": 32, "float4": 32, "float": 32, "float32": 32, "double": 64,
    "double precision": 64, "float8": 64, "float64": 64,
}  # fmt: skip
_STRINGS = (
    "varchar",
    "character varying",
    "text",
    "string",
    "char",
    "character",
    "bpchar",
    "large_string",
    "large_utf8",
    "utf8",
    "string_view",
    "object",
    "str",
    "nvarchar",
    "name",
)
_BINARY = ("blob", "bytea", "binary", "large_binary", "varbinary", "bytes", "binary_view")
_FAMILY_NAMES = {"int": "integer", "uint": "unsigned integer", "float": "float", "decimal": "decimal"}


class _Type(NamedTuple):
    """A type by meaning: ``family`` plus what matters for widening (bits, precision/scale, length, tz)."""

    family: str
    a: Any = None
    b: Any = None


@dataclass(frozen=True)
class SchemaChange:
    """One change: ``kind`` is added / removed / retyped / renamed / nullability / reordered.

    ``column`` is the column's name in the new schema (the old one for ``removed``); ``old_column``
    is set for ``renamed``. ``detail`` says what changed and why it is (not) breaking.
    """

    kind: str
    column: str
    old_type: str | None
    new_type: str | None
    breaking: bool
    detail: str
    old_column: str | None = None


@dataclass(frozen=True)
class SchemaDiff(ResultMixin):
    """The changes from ``old`` to ``new`` (labels), each classified breaking or not; ``breaking`` if any is."""

    old: str
    new: str
    old_columns: dict[str, str]
    new_columns: dict[str, str]
    changes: tuple[SchemaChange, ...]
    breaking: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "breaking", any(c.breaking for c in self.changes))

    @property
    def breaking_changes(self) -> tuple[SchemaChange, ...]:
        """Only the changes that break readers or writers."""
        return tuple(c for c in self.changes if c.breaking)

    def of_kind(self, kind: str) -> tuple[SchemaChange, ...]:
        """The changes of one ``kind`` (``"added"``, ``"removed"``, ``"retyped"``, ``"renamed"`` ...)."""
        return tuple(c for c in self.changes if c.kind == kind)

    def summary(self) -> str:
        if not self.changes:
            n = len(self.new_columns)
            return f"No schema changes from {self.old} to {self.new} ({n} column{'s' if n != 1 else ''})."
        n_break = len(self.breaking_changes)
        head = (
            f"{len(self.changes)} schema change{'s' if len(self.changes) != 1 else ''} from {self.old} to {self.new}, "
            + (f"{n_break} of them breaking" if n_break else "none of them breaking")
            + "."
        )
        parts = [head]
        if n_break:
            parts.append("Breaking: " + "; ".join(c.detail for c in self.breaking_changes) + ".")
        safe = [c for c in self.changes if not c.breaking]
        if safe:
            parts.append("Not breaking: " + "; ".join(c.detail for c in safe) + ".")
        return " ".join(parts)


# -- type parsing --------------------------------------------------------------------------------------
def _arrow_type(t: pa.DataType) -> _Type:
    if pa.types.is_dictionary(t):
        return _arrow_type(t.value_type)
    if pa.types.is_null(t):
        return _Type("null")
    if pa.types.is_boolean(t):
        return _Type("bool")
    if pa.types.is_integer(t):
        return _Type("int" if pa.types.is_signed_integer(t) else "uint", t.bit_width)
    if pa.types.is_floating(t):
        return _Type("float", t.bit_width)
    if pa.types.is_decimal(t):
        return _Type("decimal", t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
        return _Type("string")
    if pa.types.is_date(t):
        return _Type("date")
    if pa.types.is_timestamp(t):
        return _Type("timestamp", t.tz is not None, t.unit)
    return _Type("other", str(t))


def _parse_type(text: str) -> _Type:
    t = " ".join(str(text).strip().lower().replace('"', "").split())
    base, _, args = t.partition("(")
    base = base.strip()
    nums = [int(n) for n in re.findall(r"\d+", args)] if args else []
    if base in ("null", "void"):
        return _Type("null")
    if base in ("bool", "boolean", "logical"):
        return _Type("bool")
    if base in _INTS:
        return _Type("int", _INTS[base])
    if base in _UINTS:
        return _Type("uint", _UINTS[base])
    if base in _FLOATS:
        return _Type("float", 64 if base == "float" and nums and nums[0] > 24 else _FLOATS[base])
    if base in ("decimal", "numeric", "dec", "decimal128", "decimal256"):
        return _Type("decimal", nums[0] if nums else None, nums[1] if len(nums) > 1 else 0)
    if base in _STRINGS:
        return _Type("string", nums[0] if nums and base not in ("object", "str") else None)
    if base in _BINARY:
        return _Type("binary")
    if base.startswith("date") and not base.startswith("datetime"):
        return _Type("date")
    if base.startswith(("timestamp", "datetime")):
        tz = (
            ("with time zone" in t and "without" not in t)
            or base in ("timestamptz", "timestamp_tz")
            or "tz=" in t
            or (base.startswith("datetime64") and "," in t)  # pandas datetime64[ns, UTC]
        )
        unit = re.search(r"(?:_|\[)(ns|ms|us|s)\b", t)
        return _Type("timestamp", tz, unit.group(1) if unit else "us")
    return _Type("other", t)


def _show(t: _Type) -> str:
    return _FAMILY_NAMES.get(t.family, t.family)


def _compare(old: _Type, new: _Type) -> tuple[bool, str] | None:
    """``None`` when the types mean the same; else (breaking, why)."""
    if old == new:
        return None
    f, g = old.family, new.family
    if f == "null":
        return False, "the type is now known"
    if f in ("int", "uint") and g in ("int", "uint"):
        if (f == g and new.a >= old.a) or (f == "uint" and g == "int" and new.a > old.a):
            return False, "widening"
        return True, "narrowing" if new.a < old.a else "sign change"
    if f in ("int", "uint") and g == "float":
        lossy = old.a > _MANTISSA.get(new.a, 53)
        return False, "integer to float" + (" (integers this large may lose precision)" if lossy else "")
    if f in ("int", "uint") and g == "decimal":
        room = new.a is None or new.a - new.b >= _INT_DIGITS.get(old.a, 39)
        return (False, "widening") if room else (True, "too few digits for every integer")
    if f == "decimal" and g == "decimal":
        if new.a is None or (new.b >= old.b and new.a - new.b >= (old.a or 10**9) - old.b):
            return False, "widening"
        return True, "narrowing"
    if f == "decimal" and g == "float":
        return False, "exact decimal to approximate float"
    if f == "float" and g == "float":
        return (False, "widening") if new.a >= old.a else (True, "narrowing")
    if f == "string" and g == "string":
        if new.a is None or (old.a is not None and new.a >= old.a):
            return False, "longer strings allowed"
        return True, "shorter maximum length"
    if f == "date" and g == "timestamp":
        return False, "date to timestamp"
    if f == "timestamp" and g == "timestamp":
        if old.a != new.a:
            return True, "time zone " + ("added" if new.a else "dropped")
        return (False, "finer precision") if _TS_UNITS[new.b] >= _TS_UNITS[old.b] else (True, "coarser precision")
    return True, f"{_show(old)} to {_show(new)} is incompatible"


# -- inputs ---------------------------------------------------------------------------------------------
class _Side(NamedTuple):
    label: str
    types: dict[str, str]  # as written
    meaning: dict[str, _Type]
    nullable: dict[str, bool | None]  # declared; None = unknown
    bound: Bound | None


def _from_spec(spec: Mapping[str, Any] | pa.Schema, label: str) -> _Side:
    types: dict[str, str] = {}
    meaning: dict[str, _Type] = {}
    nullable: dict[str, bool | None] = {}
    if isinstance(spec, pa.Schema):
        for fld in spec:
            types[fld.name], meaning[fld.name], nullable[fld.name] = str(fld.type), _arrow_type(fld.type), fld.nullable
        return _Side(label, types, meaning, nullable, None)
    for name, value in spec.items():
        if not isinstance(name, str):
            raise InvalidInputError(f"schema dict keys must be column names (str); got {name!r}")
        if isinstance(value, pa.DataType):
            types[name], meaning[name], nullable[name] = str(value), _arrow_type(value), None
            continue
        text = str(value).strip()
        if not text:
            raise InvalidInputError(f"column {name!r} has an empty type; write e.g. 'BIGINT' or 'VARCHAR NOT NULL'")
        match = re.search(r"\s+(not\s+null|null)\s*$", text, flags=re.IGNORECASE)
        if match:
            nullable[name] = not match.group(1).lower().startswith("not")
            text = text[: match.start()]
        else:
            nullable[name] = None
        types[name], meaning[name] = text, _parse_type(text)
    return _Side(label, types, meaning, nullable, None)


def _is_spec(obj: object) -> bool:
    return isinstance(obj, pa.Schema | Mapping) and not _is_frame(obj)


def _is_frame(obj: object) -> bool:
    return type(obj).__name__ == "DataFrame"


def _from_bound(b: Bound) -> _Side:
    types = dict(b.columns)
    return _Side(b.label, types, {c: _parse_type(t) for c, t in types.items()}, dict.fromkeys(types), b)


_STATS_FAMILIES = {"int", "uint", "float", "decimal", "string", "date", "timestamp"}


def _stats(side: _Side, columns: list[str], minmax: set[str]) -> tuple[int, dict[str, tuple[Any, ...]]]:
    """Row count and per column (non-null count, min, max) in one scan; min/max only for ``minmax``."""
    if side.bound is None or not columns:
        return 0, {}
    items = ["count(*) AS n"]
    for i, col in enumerate(columns):
        items.append(f"count({quote(col)}) AS nn_{i}")
        if col in minmax:
            items += [f"min({quote(col)}) AS mn_{i}", f"max({quote(col)}) AS mx_{i}"]
    row = side.bound.engine.sql(f"SELECT {', '.join(items)} FROM {side.bound.relation}").to_pylist()[0]
    out = {c: (row[f"nn_{i}"], row.get(f"mn_{i}"), row.get(f"mx_{i}")) for i, c in enumerate(columns)}
    return int(row["n"]), out


# -- the diff --------------------------------------------------------------------------------------------
def schema_diff(old: object, new: object, *, engine: Engine | None = None, compare_data: bool = True) -> SchemaDiff:
    """Compare the schema of ``old`` with ``new`` and classify every change as breaking or not.

    ``old``/``new``: a data source (path, DataFrame, Arrow table, or with ``engine=`` a table name or
    SELECT), a ``{column: type}`` dict (``"BIGINT NOT NULL"`` declares nullability) or a pyarrow Schema.
    When both sides are data and ``compare_data`` is true, one aggregate scan per side (row count, null
    counts, min/max of the candidate columns) backs rename suggestions and observed nullability.
    """
    with ExitStack() as stack:
        sides = []
        for name, obj in (("old", old), ("new", new)):
            if _is_spec(obj):
                sides.append(_from_spec(obj, f"the {name} schema"))  # type: ignore[arg-type]
            else:
                sides.append(_from_bound(stack.enter_context(bind(obj, engine, name=f"diff_{name}"))))
        return _diff(sides[0], sides[1], compare_data)


def _diff(old: _Side, new: _Side, compare_data: bool) -> SchemaDiff:
    removed = [c for c in old.types if c not in new.types]
    added = [c for c in new.types if c not in old.types]
    common = [c for c in old.types if c in new.types]
    data = compare_data and old.bound is not None and new.bound is not None
    old_rows, old_stats, new_rows, new_stats = 0, {}, 0, {}
    if data:
        old_mm = {c for c in removed if old.meaning[c].family in _STATS_FAMILIES}
        new_mm = {c for c in added if new.meaning[c].family in _STATS_FAMILIES}
        old_rows, old_stats = _stats(old, common + removed, old_mm)
        new_rows, new_stats = _stats(new, common + added, new_mm)

    changes: list[SchemaChange] = []
    renames = _renames(old, new, removed, added, old_stats, new_stats, old_rows, new_rows)
    renamed_old = {o for o, _, _ in renames}
    renamed_new = {n for _, n, _ in renames}
    for col in old.types:
        if col in renamed_old:
            o, n, why = next(r for r in renames if r[0] == col)
            changes.append(
                SchemaChange(
                    "renamed",
                    n,
                    old.types[o],
                    new.types[n],
                    True,
                    f"'{o}' was probably renamed to '{n}' ({why}); readers of '{o}' break",
                    old_column=o,
                )
            )
        elif col in removed:
            changes.append(SchemaChange("removed", col, old.types[col], None, True, f"'{col}' was removed"))
        else:
            changes.extend(_column_changes(col, old, new, old_stats, new_stats, old_rows, new_rows))
    for col in added:
        if col in renamed_new:
            continue
        declared = new.nullable.get(col)
        if declared is False:
            detail = f"'{col}' ({new.types[col]}, NOT NULL) was added: writers must now supply it"
        else:
            detail = f"'{col}' ({new.types[col]}) was added"
        changes.append(SchemaChange("added", col, None, new.types[col], declared is False, detail))
    shared_new_order = [c for c in new.types if c in old.types]
    if shared_new_order != common:
        changes.append(
            SchemaChange(
                "reordered",
                "*",
                None,
                None,
                False,
                "the shared columns are in a different order (breaks only readers that rely on column positions)",
            )
        )
    return SchemaDiff(old.label, new.label, dict(old.types), dict(new.types), tuple(changes))


def _column_changes(
    col: str, old: _Side, new: _Side, old_stats: dict, new_stats: dict, old_rows: int, new_rows: int
) -> list[SchemaChange]:
    out = []
    verdict = _compare(old.meaning[col], new.meaning[col])
    if verdict is not None:
        breaking, why = verdict
        out.append(
            SchemaChange(
                "retyped",
                col,
                old.types[col],
                new.types[col],
                breaking,
                f"'{col}' changed type from {old.types[col]} to {new.types[col]} ({why})",
            )
        )
    was, now = old.nullable.get(col), new.nullable.get(col)
    if was is not None and now is not None and was != now:
        if now:
            out.append(
                SchemaChange(
                    "nullability",
                    col,
                    old.types[col],
                    new.types[col],
                    True,
                    f"'{col}' may now hold nulls (was NOT NULL)",
                )
            )
        else:
            out.append(
                SchemaChange("nullability", col, old.types[col], new.types[col], False, f"'{col}' is now NOT NULL")
            )
    elif col in old_stats and col in new_stats and old_rows > 0:
        old_nulls = old_rows - old_stats[col][0]
        new_nulls = new_rows - new_stats[col][0]
        if old_nulls == 0 and new_nulls > 0:
            share = new_nulls / new_rows
            out.append(
                SchemaChange(
                    "nullability",
                    col,
                    old.types[col],
                    new.types[col],
                    False,
                    f"'{col}' had no nulls in {old_rows:,} old rows but has {new_nulls:,} "
                    f"({share:.1%}) in the new data; check readers that assume it is always set",
                )
            )
    return out


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.lower())


def _renames(
    old: _Side,
    new: _Side,
    removed: list[str],
    added: list[str],
    old_stats: dict,
    new_stats: dict,
    old_rows: int,
    new_rows: int,
) -> list[tuple[str, str, str]]:
    """Greedy best-first pairing of removed and added columns of the same type: (old, new, reason)."""

    def same_data(o: str, n: str) -> bool:
        if o not in old_stats or n not in new_stats or old_rows != new_rows:
            return False
        (nn_o, mn_o, mx_o), (nn_n, mn_n, mx_n) = old_stats[o], new_stats[n]
        return nn_o == nn_n and nn_o > 0 and mn_o is not None and mn_o == mn_n and mx_o == mx_n

    candidates = []
    for o in removed:
        for n in added:
            if old.meaning[o] != new.meaning[n]:
                continue
            ratio = difflib.SequenceMatcher(None, _norm_name(o), _norm_name(n)).ratio()
            candidates.append((o, n, ratio, same_data(o, n)))
    pairs: list[tuple[str, str, str]] = []
    used_old: set[str] = set()
    used_new: set[str] = set()
    for o, n, ratio, same in sorted(candidates, key=lambda c: (c[3], c[2]), reverse=True):
        if o in used_old or n in used_new:
            continue
        unique_data = same and sum(1 for c in candidates if c[3] and (c[0] == o or c[1] == n)) == 1
        if ratio < _NAME_SIMILARITY and not unique_data:
            continue
        reasons = [f"same type {new.types[n]}"]
        if _norm_name(o) == _norm_name(n):
            reasons.append("the names differ only in case or separators")
        elif ratio >= _NAME_SIMILARITY:
            reasons.append(f"similar name, {ratio:.0%} alike")
        if same:
            reasons.append("identical row count, null count, min and max")
        pairs.append((o, n, "suggestion: " + ", ".join(reasons)))
        used_old.add(o)
        used_new.add(n)
    return pairs
