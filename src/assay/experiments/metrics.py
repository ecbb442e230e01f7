"""The metric catalog: the single place KPI definitions live, in YAML or Python.

A :class:`Metric` says how to turn rows of a source table into one value per unit (user, account...)
inside a time window that starts at the unit's first exposure. The analysis compiles metrics to SQL
(:mod:`assay.experiments.compile`), so nothing here touches data.

========== ==================================================================================
kind       per-unit value
========== ==================================================================================
mean       ``aggregation`` (sum, count or max) of ``value`` over the unit's rows in the window
proportion 1 if any row in the window qualifies (passes ``filter`` and has ``value > 0``), else 0
ratio      ``Σ numerator / Σ denominator`` over all units (delta method; see ``compile``)
========== ==================================================================================

Units without rows in the window count as 0. ``filter`` (a SQL condition) limits which rows count;
``value``, ``numerator``, ``denominator`` and ``filter`` are SQL expressions over one row of the source
(DuckDB dialect; a boolean ``value`` counts as 1/0). ``window`` is ``{start, end}`` relative to first
exposure, end exclusive, written ``30s``, ``15m``, ``1h``, ``3d`` or ``2w`` (no end: up to the analysis
time). ``unit_column`` and ``timestamp_column`` default to the experiment's exposure columns.
Quantile metrics are not supported: their variance needs the per-unit distribution, not sums.

Example YAML (``MetricCatalog.from_yaml``)::

    metrics:
      conversion:
        kind: proportion
        source: events
        filter: event = 'purchase'
        window: {start: 0d, end: 14d}
        description: Share of users who buy within 14 days of first exposure
      revenue:
        source: events
        value: amount
        window: {end: 14d}
      latency_ms:
        source: "SELECT user_id, ts, latency_ms FROM requests WHERE status < 500"
        value: latency_ms
        aggregation: max
        direction: decrease
        guardrail: true
        margin: 0.05
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from assay._yaml import load_yaml
from assay.engine.sqlcheck import parse_select
from assay.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = ["Metric", "MetricCatalog", "Window", "parse_duration"]

KINDS = ("mean", "proportion", "ratio")
AGGREGATIONS = ("sum", "count", "max")
DIRECTIONS = ("increase", "decrease")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_DURATION = re.compile(r"^([+-]?)(\d+)\s*([a-z]+)$")
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip


def parse_duration(text: str | int, what: str = "duration") -> int:
    """Seconds in a duration written ``30s``, ``15m``, ``1h``, ``3d``, ``2w`` (or ``0``); negative allowed.

    >>> parse_duration("2w"), parse_duration("-14d"), parse_duration("90m")
    (1209600, -1209600, 5400)
    """
    if isinstance(text, int) and not isinstance(text, bool) and text == 0:
        return 0
    match = _DURATION.match(text.strip().lower()) if isinstance(text, str) else None
    if isinstance(text, str) and text.strip() == "0":
        return 0
    if match is None or match.group(3) not in _UNITS:
        raise InvalidInputError(
            f"The {what} must be a whole number with a unit: s, m, h, d or w (e.g. '14d', '1h', '2w'). Got {text!r}."
        )
    sign = -1 if match.group(1) == "-" else 1
    return sign * int(match.group(2)) * _UNITS[match.group(3)]


@dataclass(frozen=True)
class Window:
    """A time window relative to each unit's first exposure: ``[start, end)``; ``end=None`` is open-ended.

    >>> Window("0d", "14d").end_seconds
    1209600
    """

    start: str = "0d"
    end: str | None = None

    def __post_init__(self) -> None:
        start = self.start if isinstance(self.start, str) else str(self.start)
        object.__setattr__(self, "start", start.strip())
        if self.end is not None:
            object.__setattr__(self, "end", str(self.end).strip())
        if self.start_seconds < 0:
            raise InvalidInputError(
                f"A metric window must start at or after first exposure (start >= 0). Got start={self.start!r}; "
                "events before exposure cannot be caused by the treatment (use cuped: for pre-period data)."
            )
        if self.end_seconds is not None and self.end_seconds <= self.start_seconds:
            raise InvalidInputError(
                f"A metric window must end after it starts. Got start={self.start!r}, end={self.end!r}."
            )

    @property
    def start_seconds(self) -> int:
        return parse_duration(self.start, "window start")

    @property
    def end_seconds(self) -> int | None:
        return None if self.end is None else parse_duration(self.end, "window end")

    @classmethod
    def parse(cls, value: Window | Mapping[str, Any] | str | None) -> Window:
        """A window from ``{"start": "0d", "end": "14d"}``, an end alone (``"14d"``), a Window, or None."""
        if value is None:
            return cls()
        if isinstance(value, Window):
            return value
        if isinstance(value, str):
            return cls("0d", value)
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"start", "end"})
            if unknown:
                raise InvalidInputError(f"A metric window has the keys 'start' and 'end' only. Got {unknown}.")
            start = value.get("start")
            return cls("0d" if start is None else str(start), None if value.get("end") is None else str(value["end"]))
        raise InvalidInputError(f"A metric window must be a mapping like {{start: 0d, end: 14d}}. Got {value!r}.")

    def to_dict(self) -> dict[str, str | None]:
        return {"start": self.start, "end": self.end}


def check_expression(text: str | None, what: str, metric: str) -> exp.Expression | None:
    """Parse a per-row SQL expression, refusing statements, aggregates, window functions and subqueries."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"Metric {metric!r}: {what} must be a non-empty SQL expression. Got {text!r}.")
    try:
        tree = parse_select(f"SELECT {text} AS assay_value FROM assay_source")
    except InvalidInputError as exc:
        raise InvalidInputError(f"Metric {metric!r}: {what} is not a valid SQL expression: {exc}") from exc
    ok = (
        isinstance(tree, exp.Select)
        and len(tree.selects) == 1
        and isinstance(tree.selects[0], exp.Alias)
        and tree.selects[0].alias == "assay_value"
        and not any(tree.args.get(k) for k in ("joins", "where", "group", "having", "order", "limit", "with"))
    )
    if not ok:
        raise InvalidInputError(f"Metric {metric!r}: {what} must be one SQL expression over a row. Got {text!r}.")
    node = tree.selects[0].this
    bad = node.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select)
    if bad is not None:
        raise InvalidInputError(
            f"Metric {metric!r}: {what} is evaluated on each row, so it cannot contain aggregates, window functions "
            f"or subqueries (found {bad.sql(dialect='duckdb')!r}); set 'aggregation' instead."
        )
    return node


def check_source(source: Any, owner: str) -> str:
    """A registered table name (``events``, ``schema.events``) or a single read-only SELECT."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(f"{owner}: 'source' must be a table name or a SELECT statement. Got {source!r}.")
    text = source.strip().rstrip(";").strip()
    if _TABLE.match(text):
        return text
    try:
        parse_select(text)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{owner}: 'source' must be a table name or a single SELECT: {exc}") from exc
    return text


def is_table_name(source: str) -> bool:
    return bool(_TABLE.match(source))


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
        raise InvalidInputError(
            "A metric name must start with a letter and hold only letters, digits and single underscores "
            f"(it names SQL columns). Got {name!r}."
        )
    return name


def _choice(value: Any, options: tuple[str, ...], what: str, metric: str) -> str:
    if value not in options:
        raise InvalidInputError(f"Metric {metric!r}: {what} must be one of {', '.join(options)}. Got {value!r}.")
    return value


@dataclass(frozen=True)
class Metric:
    """One KPI definition (see the module docstring for the meaning of each field).

    >>> m = Metric("revenue", source="events", value="amount", window={"end": "14d"})
    >>> m.kind, m.aggregation, m.window.end_seconds
    ('mean', 'sum', 1209600)
    """

    name: str
    _: KW_ONLY
    source: str
    kind: str = "mean"
    value: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    filter: str | None = None
    unit_column: str | None = None
    timestamp_column: str | None = None
    window: Window = field(default_factory=Window)
    aggregation: str | None = None
    direction: str = "increase"
    guardrail: bool = False
    margin: float | None = None
    cuped: bool = True
    description: str = ""
    owner: str = ""

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        put = object.__setattr__
        if self.kind == "quantile":
            raise InvalidInputError(
                f"Metric {name!r}: quantile metrics are not supported (their variance needs the per-unit "
                "distribution); use a mean of an indicator such as CASE WHEN latency_ms > 500 THEN 1 ELSE 0 END."
            )
        _choice(self.kind, KINDS, "'kind'", name)
        put(self, "source", check_source(self.source, f"Metric {name!r}"))
        if self.kind == "ratio":
            if self.numerator is None or self.denominator is None or self.value is not None:
                raise InvalidInputError(
                    f"Metric {name!r}: a ratio metric needs 'numerator' and 'denominator' expressions (and no 'value')."
                )
        elif self.numerator is not None or self.denominator is not None:
            raise InvalidInputError(f"Metric {name!r}: only ratio metrics take 'numerator'/'denominator'; use 'value'.")
        elif self.kind == "mean" and self.value is None:
            raise InvalidInputError(f"Metric {name!r}: a mean metric needs a 'value' expression (e.g. value: amount).")
        for what in ("value", "numerator", "denominator", "filter"):
            check_expression(getattr(self, what), f"'{what}'", name)
        for what in ("unit_column", "timestamp_column"):
            col = getattr(self, what)
            if col is not None and (not isinstance(col, str) or not col.strip()):
                raise InvalidInputError(f"Metric {name!r}: {what!r} must be a column name. Got {col!r}.")
        try:
            put(self, "window", Window.parse(self.window))
        except InvalidInputError as exc:
            raise InvalidInputError(f"Metric {name!r}: {exc}") from exc
        aggregation = self.aggregation
        if self.kind == "proportion":
            if aggregation not in (None, "max"):
                raise InvalidInputError(
                    f"Metric {name!r}: a proportion is 1 when any row qualifies, so 'aggregation' must be max or "
                    f"left out. Got {aggregation!r}; use kind: mean for a {aggregation} per unit."
                )
            aggregation = "max"
        elif self.kind == "ratio":
            aggregation = _choice(aggregation or "sum", ("sum", "count"), "'aggregation' of a ratio", name)
        put(self, "aggregation", _choice(aggregation or "sum", AGGREGATIONS, "'aggregation'", name))
        _choice(self.direction, DIRECTIONS, "'direction'", name)
        for what in ("guardrail", "cuped"):
            if not isinstance(getattr(self, what), bool):
                raise InvalidInputError(
                    f"Metric {name!r}: {what!r} must be true or false. Got {getattr(self, what)!r}."
                )
        if self.margin is not None:
            ok = isinstance(self.margin, int | float) and not isinstance(self.margin, bool) and 0 <= self.margin < 1
            if not ok:
                raise InvalidInputError(
                    f"Metric {name!r}: 'margin' is a relative change in [0, 1) (0.02 means 2%). Got {self.margin!r}."
                )
            put(self, "margin", float(self.margin))

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "increase"

    @property
    def label(self) -> str:
        """The name as words, for readouts (``checkout_conversion`` → ``checkout conversion``)."""
        return self.name.replace("_", " ")

    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """Every field as JSON-safe values; ``compact`` drops fields at their default (for YAML)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "_":
                continue
            value = getattr(self, f.name)
            if compact and f.name != "name":
                default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                if value == default or (f.name == "aggregation" and value == _default_aggregation(self.kind)):
                    continue
            out[f.name] = value.to_dict() if isinstance(value, Window) else value
        if compact and out.get("window") and out["window"]["start"] in ("0d", "0"):
            out["window"] = {k: v for k, v in out["window"].items() if k == "end"}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str | None = None) -> Metric:
        """Build a metric from a mapping (as in YAML); unknown keys raise with a suggestion.

        >>> Metric.from_dict({"source": "events", "value": "amount"}, name="revenue").name
        'revenue'
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"Metric {name!r} must be a mapping of fields. Got {data!r}.")
        data = dict(data)
        if name is not None and data.setdefault("name", name) != name:
            raise InvalidInputError(f"Metric {name!r} is filed under a different 'name': {data['name']!r}.")
        label = data.get("name", "?")
        known = [f.name for f in dataclasses.fields(cls) if f.name != "_"]
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
                raise InvalidInputError(f"Metric {label!r}: unknown field {key!r}{hint}")
        if "source" not in data:
            raise InvalidInputError(f"Metric {label!r}: 'source' is missing (a table name or a SELECT).")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInputError(f"Metric {label!r}: {exc}") from exc


def _default_aggregation(kind: str) -> str:
    return "max" if kind == "proportion" else "sum"


def dump_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)


def metrics_from_data(data: Any, where: str) -> list[Metric]:
    """Metrics from ``{name: {...}}`` or ``[{name: ..., ...}]`` (the ``metrics:`` section of a YAML file)."""
    if isinstance(data, Mapping):
        return [Metric.from_dict(body or {}, name=str(name)) for name, body in data.items()]
    if isinstance(data, list):
        return [Metric.from_dict(body) for body in data]
    raise InvalidInputError(f"{where}: 'metrics' must map metric names to definitions. Got {type(data).__name__}.")


class MetricCatalog:
    """Named metric definitions, loaded from YAML or built in Python; names are unique.

    >>> cat = MetricCatalog.from_yaml("metrics:\\n  revenue: {source: events, value: amount}")
    >>> cat.get("revenue").value, cat.names
    ('amount', ['revenue'])
    """

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        self._metrics: dict[str, Metric] = {}
        for m in metrics:
            self.add(m)

    def add(self, metric: Metric, *, replace: bool = False) -> MetricCatalog:
        """Add ``metric`` (returns the catalog); a second metric of the same name needs ``replace=True``."""
        if not isinstance(metric, Metric):
            raise InvalidInputError(f"MetricCatalog.add takes a Metric. Got {type(metric).__name__}.")
        if metric.name in self._metrics and not replace and self._metrics[metric.name] != metric:
            raise ConflictError(
                f"The catalog already defines metric {metric.name!r}; pass replace=True to redefine it."
            )
        self._metrics[metric.name] = metric
        return self

    def get(self, name: str) -> Metric:
        """The metric called ``name``; :class:`NotFoundError` lists the known names."""
        try:
            return self._metrics[name]
        except (KeyError, TypeError):
            known = ", ".join(self._metrics) or "none"
            close = difflib.get_close_matches(str(name), list(self._metrics), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise NotFoundError(f"Unknown metric {name!r}.{hint} Metrics in the catalog: {known}.") from None

    @property
    def names(self) -> list[str]:
        return list(self._metrics)

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._metrics.values())

    def __len__(self) -> int:
        return len(self._metrics)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricCatalog) and list(self._metrics.items()) == list(other._metrics.items())

    def __repr__(self) -> str:
        return f"MetricCatalog({', '.join(self._metrics)})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricCatalog:
        """From ``{"metrics": {name: {...}}}`` (or the inner mapping / list directly)."""
        if isinstance(data, Mapping) and set(data) == {"metrics"}:
            data = data["metrics"]
        return cls(metrics_from_data(data, "metric catalog"))

    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike[str]) -> MetricCatalog:
        """Load a catalog from a YAML file or YAML text (see the module docstring for the format)."""
        data = load_yaml(path_or_text, "metric catalog")
        if not isinstance(data, Mapping) or "metrics" not in data:
            raise InvalidInputError("A metric catalog YAML needs a top-level 'metrics:' section.")
        extra = sorted(set(data) - {"metrics"})
        if extra:
            raise InvalidInputError(f"A metric catalog YAML holds only 'metrics:'. Unknown top-level keys: {extra}.")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": {m.name: _without_name(m.to_dict(compact=True)) for m in self}}

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """The catalog as YAML text (written to ``path`` too when given); ``from_yaml`` reads it back."""
        text = dump_yaml(self.to_dict())
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _without_name(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "name"}
