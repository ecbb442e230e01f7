"""Deterministic, salted assignment of units to variants, identical in Python and in SQL.

Every decision is a bucket ``md5(salt || ':' || unit_id)[:15] → int mod 10,000`` (see
:mod:`assay.experiments._hashing`), so the same unit gets the same variant in a notebook, in the serving
layer and inside DuckDB, Spark, PostgreSQL, BigQuery or Snowflake. Shares are whole buckets: 0.01%
granularity. A unit is in an experiment iff it passes three independent gates, each on its own salt:

=============  ==========================  ====================================================
gate           salt                        unit kept when its bucket is ...
=============  ==========================  ====================================================
holdout        ``holdout:<holdout_name>``  ``>= round(holdout * 10000)`` (the rest is held out)
layer          ``layer:<layer>``           in ``[round(lo * 10000), round(hi * 10000))``
traffic        ``<salt>:traffic``          ``< round(traffic * 10000)``
=============  ==========================  ====================================================

and its variant comes from the variant bucket (salt ``<salt>``, default the experiment name) alone,
against integer cumulative thresholds ``round(cumsum(weights) / sum(weights) * 10000)``. Hence:

* ramping ``traffic`` up only adds units; nobody already in changes arm (the variant hash ignores traffic);
* experiments sharing a ``holdout_name`` exclude the same units (a smaller share excludes a subset);
* experiments in one ``layer`` with disjoint ``layer_range`` never share a unit;
* different experiments (different salts) are assigned independently of each other.

Units not in the experiment get ``None`` in Python and ``NULL`` in SQL; so do missing ids.

    >>> assign(["u1", "u2", "u3"], "checkout-v2", ["control", "treatment"]).tolist()
    ['treatment', 'control', 'control']
    >>> print(assignment_sql("checkout-v2", ["control", "treatment"], unit_column="user_id"))  # doctest: +ELLIPSIS
    CASE
      WHEN MOD(CAST('0x' || substr(md5('checkout-v2:' || CAST(user_id AS VARCHAR)), 1, 15) AS BIGINT), ...
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.experiments._hashing import BUCKETS, hash_buckets, normalise_dialect, sql_string, unit_texts
from assay.experiments._hashing import bucket_sql as _bucket_sql

__all__ = ["BUCKETS", "AssignmentSpec", "assign", "assignment_sql", "bucket_sql", "buckets"]

_FIELDS = ("name", "variants", "weights", "salt", "traffic", "holdout", "holdout_name", "layer", "layer_range")


def _fail(name: str, owner: str, requirement: str, got: Any) -> InvalidInputError:
    return InvalidInputError(f"The {name!r} parameter of {owner} must be {requirement}. Got {got!r}.")


def _label(value: Any, name: str, owner: str) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise _fail(name, owner, "a non-empty string of printable characters", value)
    return value


def _share(value: Any, name: str, owner: str, *, upper_open: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or not (0 <= float(value) < 1 if upper_open else 0 <= float(value) <= 1):
        raise _fail(name, owner, "in [0, 1)" if upper_open else "in [0, 1]", value)
    return float(value)


def _cumulative_ends(weights: Sequence[float] | None, n: int) -> tuple[int, ...]:
    """``round(cumsum(weights) / sum(weights) * 10000)`` with the last end pinned to 10,000."""
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    ends = [round(float(c) * BUCKETS) for c in np.cumsum(w) / w.sum()]
    ends[-1] = BUCKETS
    return tuple(ends)


@dataclass(frozen=True)
class AssignmentSpec:
    """How units are assigned to one experiment's variants; validated on creation, JSON-safe via ``to_dict``.

    ``weights`` None means equal weights. ``salt`` None means the experiment ``name``. ``traffic`` is the
    share of eligible units that enter (ramp-up), ``holdout`` the share of units excluded by the holdout
    named ``holdout_name`` (shared by every experiment that names it), ``layer``/``layer_range`` the slice
    of a mutually exclusive layer this experiment owns.

    >>> spec = AssignmentSpec("checkout-v2", ("control", "treatment"), traffic=0.5)
    >>> spec.assign(["u1", "u2", "u3"]).tolist()
    [None, 'control', None]
    >>> AssignmentSpec.from_dict(spec.to_dict()) == spec
    True
    """

    name: str
    variants: tuple[str, ...]
    weights: tuple[float, ...] | None = None
    salt: str | None = None
    traffic: float = 1.0
    holdout: float = 0.0
    holdout_name: str = "global"
    layer: str | None = None
    layer_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self._validate("AssignmentSpec")

    def _validate(self, owner: str) -> None:
        """Check and normalise every field (tuples, floats); ``owner`` names the caller in messages."""
        put = object.__setattr__
        _label(self.name, "experiment" if owner != "AssignmentSpec" else "name", owner)
        variants = self.variants
        if isinstance(variants, str) or not isinstance(variants, Sequence) or not variants:
            raise _fail("variants", owner, "a non-empty list of variant names", variants)
        for v in variants:
            _label(v, "variants", owner)
        if len(set(variants)) != len(variants):
            raise _fail("variants", owner, "a list of distinct names", list(variants))
        put(self, "variants", tuple(variants))
        if self.weights is not None:
            put(self, "weights", self._checked_weights(self.weights, owner))
        if self.salt is not None:
            _label(self.salt, "salt", owner)
        put(self, "traffic", _share(self.traffic, "traffic", owner, upper_open=False))
        put(self, "holdout", _share(self.holdout, "holdout", owner, upper_open=True))
        _label(self.holdout_name, "holdout_name", owner)
        if self.layer is not None:
            _label(self.layer, "layer", owner)
            if self.layer_range is None:
                raise _fail("layer_range", owner, "a (low, high) pair when 'layer' is given", None)
        if self.layer_range is not None:
            if self.layer is None:
                raise _fail("layer", owner, "given when 'layer_range' is given", None)
            put(self, "layer_range", self._checked_range(self.layer_range, owner))
        ends = _cumulative_ends(self.weights, len(variants))
        if any(e <= s for s, e in zip((0, *ends[:-1]), ends, strict=True)):
            need = "large enough that every variant gets at least 0.01% of units (one bucket in 10,000)"
            raise _fail("weights", owner, need, list(self.weights or ()))

    def _checked_weights(self, weights: Any, owner: str) -> tuple[float, ...]:
        need = f"a list of {len(self.variants)} positive finite numbers, one per variant"
        if (
            isinstance(weights, str)
            or not isinstance(weights, Sequence | np.ndarray)
            or len(weights) != len(self.variants)
        ):
            raise _fail("weights", owner, need, weights)
        for w in weights:
            real = isinstance(w, numbers.Real) and not isinstance(w, bool)
            if not real or not math.isfinite(float(w)) or float(w) <= 0:
                raise _fail("weights", owner, need, list(weights))
        return tuple(float(w) for w in weights)

    @staticmethod
    def _checked_range(layer_range: Any, owner: str) -> tuple[float, float]:
        need = "a (low, high) pair with 0 <= low < high <= 1, at least 0.0001 apart"
        try:
            lo, hi = (float(x) for x in layer_range)
        except (TypeError, ValueError):
            raise _fail("layer_range", owner, need, layer_range) from None
        if not (0 <= lo < hi <= 1) or round(lo * BUCKETS) >= round(hi * BUCKETS):
            raise _fail("layer_range", owner, need, layer_range)
        return lo, hi

    # --- derived integers: the single source of truth for Python and SQL ---------------------------------

    @property
    def effective_salt(self) -> str:
        """The variant hash salt: ``salt`` if given, else the experiment name."""
        return self.salt if self.salt is not None else self.name

    @property
    def thresholds(self) -> tuple[int, ...]:
        """Cumulative bucket ends per variant: variant ``i`` gets buckets ``[thresholds[i-1], thresholds[i])``."""
        return _cumulative_ends(self.weights, len(self.variants))

    @property
    def variant_shares(self) -> dict[str, float]:
        """The exact share of in-experiment units each variant gets (whole buckets), e.g. for an SRM check."""
        starts = (0, *self.thresholds[:-1])
        return {v: (e - s) / BUCKETS for v, s, e in zip(self.variants, starts, self.thresholds, strict=True)}

    def gates(self) -> list[tuple[str, int, int]]:
        """``(salt, low, high)``: a unit is in the experiment iff each gate's bucket is in ``[low, high)``."""
        out = []
        held = round(self.holdout * BUCKETS)
        if held > 0:
            out.append((f"holdout:{self.holdout_name}", held, BUCKETS))
        if self.layer is not None and self.layer_range is not None:
            lo, hi = (round(x * BUCKETS) for x in self.layer_range)
            if (lo, hi) != (0, BUCKETS):
                out.append((f"layer:{self.layer}", lo, hi))
        cap = round(self.traffic * BUCKETS)
        if cap < BUCKETS:
            out.append((f"{self.effective_salt}:traffic", 0, cap))
        return out

    # --- evaluation -------------------------------------------------------------------------------------

    def assign(self, unit_ids: Any) -> np.ndarray:
        """Variant of each unit id (object array; ``None`` when not in the experiment or the id is missing)."""
        texts, present = unit_texts(unit_ids, "assign")
        out = np.full(len(present), None, dtype=object)
        rows = np.flatnonzero(present)
        for salt, lo, hi in self.gates():
            b = hash_buckets(salt, texts)
            keep = (b >= lo) & (b < hi)
            rows = rows[keep]
            texts = [texts[i] for i in np.flatnonzero(keep)]
        arm = np.searchsorted(np.asarray(self.thresholds), hash_buckets(self.effective_salt, texts), side="right")
        out[rows] = np.asarray(self.variants, dtype=object)[arm]
        return out

    def sql(self, dialect: str = "duckdb", unit_column: str = "unit_id") -> str:
        """A SQL ``CASE`` expression giving each row's variant (NULL when not in the experiment)."""
        d = normalise_dialect(dialect, "assignment_sql")
        unit = _checked_unit_column(unit_column, d)
        lines = ["CASE"]
        for salt, lo, hi in self.gates():
            b = _bucket_sql(salt, unit, d)
            if lo > 0 and hi < BUCKETS:
                lines.append(f"  WHEN {b} < {lo} OR {b} >= {hi} THEN NULL")
            elif lo > 0:
                lines.append(f"  WHEN {b} < {lo} THEN NULL")
            else:
                lines.append(f"  WHEN {b} >= {hi} THEN NULL")
        b = _bucket_sql(self.effective_salt, unit, d)
        for variant, end in zip(self.variants, self.thresholds, strict=True):
            lines.append(f"  WHEN {b} < {end} THEN {sql_string(variant, d)}")
        lines.append("END")
        return "\n".join(lines)

    # --- serialisation ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field (tuples become lists)."""
        return {
            "name": self.name,
            "variants": list(self.variants),
            "weights": None if self.weights is None else list(self.weights),
            "salt": self.salt,
            "traffic": self.traffic,
            "holdout": self.holdout,
            "holdout_name": self.holdout_name,
            "layer": self.layer,
            "layer_range": None if self.layer_range is None else list(self.layer_range),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssignmentSpec:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InvalidInputError`."""
        if not isinstance(data, Mapping):
            raise _fail("data", "AssignmentSpec.from_dict", "a mapping", data)
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise _fail("data", "AssignmentSpec.from_dict", f"a mapping with keys among {list(_FIELDS)}", unknown)
        kwargs = dict(data)
        for key in ("variants", "weights", "layer_range"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def _checked_unit_column(unit_column: Any, dialect: str) -> str:
    """``unit_column`` if it parses as one scalar SQL expression in ``dialect`` (a column, a cast, ...)."""
    import sqlglot
    from sqlglot import exp

    need = "a column name or scalar SQL expression"
    if not isinstance(unit_column, str) or not unit_column.strip():
        raise _fail("unit_column", "assignment_sql", need, unit_column)
    try:
        parsed = sqlglot.parse_one(unit_column, read=dialect)
    except sqlglot.errors.SqlglotError:
        raise _fail("unit_column", "assignment_sql", need, unit_column) from None
    if not isinstance(parsed, exp.Condition) or parsed.find(exp.Query) is not None:
        raise _fail("unit_column", "assignment_sql", need, unit_column)
    return unit_column


def _spec(owner: str, experiment: str, variants: Any, weights: Any, **options: Any) -> AssignmentSpec:
    spec = object.__new__(AssignmentSpec)  # validate with the caller's name in messages
    for key, value in {"name": experiment, "variants": variants, "weights": weights, **options}.items():
        object.__setattr__(spec, key, value)
    spec._validate(owner)
    return spec


def assign(
    unit_ids: Any,
    experiment: str,
    variants: Sequence[str],
    weights: Sequence[float] | None = None,
    *,
    salt: str | None = None,
    traffic: float = 1.0,
    holdout: float = 0.0,
    holdout_name: str = "global",
    layer: str | None = None,
    layer_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Variant of each unit id: an object array of variant names, ``None`` where a unit is not in the experiment.

    ``unit_ids`` is a list, numpy array or pandas Series of strings or integers (floats and booleans are
    refused because SQL would print them differently). About 0.5 s per million ids and per hash computed.

    >>> assign([1, 2, 3, 4], "checkout-v2", ["control", "treatment"], [0.5, 0.5]).tolist()
    ['treatment', 'control', 'control', 'treatment']
    """
    spec = _spec(
        "assign",
        experiment,
        variants,
        weights,
        salt=salt,
        traffic=traffic,
        holdout=holdout,
        holdout_name=holdout_name,
        layer=layer,
        layer_range=layer_range,
    )
    return spec.assign(unit_ids)


def assignment_sql(
    experiment: str,
    variants: Sequence[str],
    weights: Sequence[float] | None = None,
    *,
    unit_column: str = "unit_id",
    dialect: str = "duckdb",
    salt: str | None = None,
    traffic: float = 1.0,
    holdout: float = 0.0,
    holdout_name: str = "global",
    layer: str | None = None,
    layer_range: tuple[float, float] | None = None,
) -> str:
    """A SQL ``CASE`` expression giving the same variant as :func:`assign` (NULL when not in the experiment).

    ``unit_column`` is a column or scalar expression, cast to text inside the expression; ``dialect`` is one
    of duckdb, postgres, spark, bigquery, snowflake. Thresholds are embedded as integers computed in Python,
    so Python and SQL can never disagree through floating point.

    >>> sql = assignment_sql("checkout-v2", ["control", "treatment"], unit_column="user_id", dialect="spark")
    >>> sql.splitlines()[1]
    "  WHEN MOD(CAST(conv(substr(md5(concat('checkout-v2:', CAST(user_id AS STRING))), 1, 15), 16, 10) AS BIGINT), 10000) < 5000 THEN 'control'"
    """  # noqa: E501
    spec = _spec(
        "assignment_sql",
        experiment,
        variants,
        weights,
        salt=salt,
        traffic=traffic,
        holdout=holdout,
        holdout_name=holdout_name,
        layer=layer,
        layer_range=layer_range,
    )
    return spec.sql(dialect, unit_column)


def buckets(unit_ids: Any, salt: str) -> np.ndarray:
    """Bucket (0 .. 9,999) of each unit id under ``salt``; -1 for a missing id. Same as :func:`bucket_sql`.

    >>> buckets(["u1", None], "checkout-v2").tolist()
    [6525, -1]
    """
    _label(salt, "salt", "buckets")
    texts, present = unit_texts(unit_ids, "buckets")
    out = np.full(len(present), -1, dtype=np.int64)
    out[present] = hash_buckets(salt, texts)
    return out


def bucket_sql(salt: str, unit_column: str = "unit_id", dialect: str = "duckdb") -> str:
    """SQL for :func:`buckets` in ``dialect`` (NULL for a NULL unit).

    >>> bucket_sql("checkout-v2", "user_id", "postgres")  # doctest: +ELLIPSIS
    "MOD(CAST(CAST('x' || lpad(substr(md5('checkout-v2:' || CAST(user_id AS TEXT)), 1, 15), 16, '0') AS BIT(64)) ..."
    """
    _label(salt, "salt", "bucket_sql")
    d = normalise_dialect(dialect, "bucket_sql")
    return _bucket_sql(salt, _checked_unit_column(unit_column, d), d)
