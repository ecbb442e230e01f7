"""An experiment definition: who was exposed to what, which metrics decide, and how to analyse them.

An :class:`Experiment` is pure configuration (no data access), loaded from YAML or built in Python, and
handed to :func:`assay.experiments.analyze`. Metrics are referred to by name: defined inline under
``metrics:`` or taken from a :class:`~assay.experiments.MetricCatalog`.

Example YAML (``Experiment.from_yaml(text_or_path, catalog=None)``)::

    name: checkout-v2
    description: One-page checkout
    exposures:
      source: exposures            # a registered table or a SELECT
      unit_column: user_id
      variant_column: variant
      timestamp_column: exposed_at
    variants: [control, treatment] # the first is control unless `control:` says otherwise
    weights: [0.5, 0.5]            # planned traffic split, for the sample-ratio check
    primary_metric: conversion
    secondary_metrics: [revenue, revenue_per_order]
    guardrail_metrics: [refund_rate]
    dimensions: [country]          # exposure columns to slice results by
    cuped: {pre_period: 14d}       # CUPED covariate: each metric in the 14 days before first exposure
    alpha: 0.05
    method: fixed                  # fixed | sequential | bayesian
    multiple_testing: holm         # holm | bh | none
    models: {treatment: "models:/checkout-ranker/3"}
    metrics:
      conversion: {kind: proportion, source: events, timestamp_column: ts, filter: "event = 'purchase'",
                   window: {end: 14d}}
      revenue: {source: events, timestamp_column: ts, value: amount, window: {end: 14d}}
      revenue_per_order: {kind: ratio, source: events, timestamp_column: ts, numerator: amount,
                          denominator: "CASE WHEN event = 'purchase' THEN 1 ELSE 0 END"}
      refund_rate: {kind: proportion, source: events, timestamp_column: ts, filter: "event = 'refund'",
                    direction: decrease, margin: 0.1}

``start``/``end`` (and ``analyze(as_of=...)``) limit the analysis to exposures in ``[start, end)`` and events
before ``end``. Roles: the primary metric decides; a metric listed under ``guardrail_metrics`` or defined with
``guardrail: true`` is tested as a guardrail (one-sided harm test with its ``margin``); the others are
secondary. The multiple-testing families are described in :mod:`assay.experiments.analysis`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import InvalidInputError, NotFoundError
from assay.experiments.assign import AssignmentSpec
from assay.experiments.metrics import (
    Metric,
    MetricCatalog,
    check_source,
    dump_yaml,
    load_yaml,
    metrics_from_data,
    parse_duration,
)

__all__ = ["Cuped", "Experiment", "Exposures"]

METHODS = ("fixed", "sequential", "bayesian")
CORRECTIONS = ("holm", "bh", "none")


def _fail(owner: str, what: str, need: str, got: Any) -> InvalidInputError:
    return InvalidInputError(f"{owner}: {what!r} must be {need}. Got {got!r}.")


def _column(value: Any, owner: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise _fail(owner, what, "a column name", value)
    return value.strip()


@dataclass(frozen=True)
class Exposures:
    """Where exposures are logged: one row per (unit, variant, time) a unit saw a variant.

    >>> Exposures("exposures", unit_column="user_id").variant_column
    'variant'
    """

    source: str
    unit_column: str = "unit_id"
    variant_column: str = "variant"
    timestamp_column: str = "timestamp"

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", check_source(self.source, "Experiment exposures"))
        for what in ("unit_column", "variant_column", "timestamp_column"):
            object.__setattr__(self, what, _column(getattr(self, what), "Experiment exposures", what))

    @classmethod
    def parse(cls, value: Exposures | Mapping[str, Any] | str) -> Exposures:
        if isinstance(value, Exposures):
            return value
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, Mapping):
            raise _fail("Experiment", "exposures", "a mapping with source, unit_column, variant_column, ...", value)
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise InvalidInputError(f"Experiment exposures: unknown field(s) {unknown}; known: {', '.join(known)}.")
        if "source" not in value:
            raise InvalidInputError("Experiment exposures: 'source' is missing (a table name or a SELECT).")
        return cls(**value)

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Cuped:
    """CUPED settings: the covariate of each metric is the same metric in ``[-pre_period, 0)`` before exposure.

    >>> Cuped("14d").pre_period_seconds
    1209600
    """

    pre_period: str = "14d"

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre_period", str(self.pre_period).strip())
        if self.pre_period_seconds <= 0:
            raise InvalidInputError(
                f"cuped: 'pre_period' must be a positive duration like 14d. Got {self.pre_period!r}."
            )

    @property
    def pre_period_seconds(self) -> int:
        return parse_duration(self.pre_period, "CUPED pre_period")

    @classmethod
    def parse(cls, value: Cuped | Mapping[str, Any] | str | bool | None) -> Cuped | None:
        if value is None or value is False:
            return None
        if isinstance(value, Cuped):
            return value
        if value is True:
            return cls()
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping) and set(value) <= {"pre_period"}:
            return cls(**value)
        raise _fail("Experiment", "cuped", "a mapping like {pre_period: 14d}, a duration, or false", value)


def parse_time(value: Any, what: str) -> dt.datetime | None:
    """A naive UTC datetime from a date, datetime or ISO string."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail("Experiment", what, "an ISO date or time like 2024-05-01 or 2024-05-01T12:00", value) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise _fail("Experiment", what, "a date, a datetime or an ISO string", value)


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise _fail("Experiment", what, "a list of names", value)
    if len(set(value)) != len(value):
        raise _fail("Experiment", what, "a list without duplicates", list(value))
    return tuple(value)


@dataclass(frozen=True)
class Experiment:
    """An A/B or multi-variant experiment (see the module docstring for the YAML form).

    >>> e = Experiment("checkout-v2", exposures={"source": "exposures", "unit_column": "user_id"},
    ...                variants=["control", "treatment"], primary_metric="conversion",
    ...                metrics=[Metric("conversion", kind="proportion", source="events", filter="event = 'buy'")])
    >>> e.control, e.treatments, e.weights
    ('control', ('treatment',), (0.5, 0.5))
    """

    name: str
    _: KW_ONLY
    exposures: Exposures
    variants: tuple[str, ...]
    primary_metric: str
    control: str | None = None
    weights: tuple[float, ...] | None = None
    secondary_metrics: tuple[str, ...] = ()
    guardrail_metrics: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = ()
    dimensions: tuple[str, ...] = ()
    cuped: Cuped | None = None
    alpha: float = 0.05
    method: str = "fixed"
    multiple_testing: str = "holm"
    relative: bool = True
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    models: dict[str, str] = field(default_factory=dict)
    assignment: AssignmentSpec | None = None
    description: str = ""
    owner: str = ""

    def __post_init__(self) -> None:
        put = object.__setattr__
        if not isinstance(self.name, str) or not self.name.strip() or not self.name.isprintable():
            raise _fail("Experiment", "name", "a non-empty string", self.name)
        put(self, "exposures", Exposures.parse(self.exposures))
        variants = tuple(str(v) for v in self.variants) if isinstance(self.variants, Sequence) else None
        if not variants or isinstance(self.variants, str) or len(variants) < 2 or len(set(variants)) != len(variants):
            raise _fail("Experiment", "variants", "a list of at least 2 distinct variant names", self.variants)
        put(self, "variants", variants)
        control = variants[0] if self.control is None else str(self.control)
        if control not in variants:
            raise _fail("Experiment", "control", f"one of the variants {list(variants)}", self.control)
        put(self, "control", control)
        weights = self.weights if self.weights is not None else [1.0] * len(variants)
        ok = isinstance(weights, Sequence) and len(weights) == len(variants)
        ok = ok and all(isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w > 0
                        for w in weights)  # fmt: skip
        if not ok:
            raise _fail("Experiment", "weights", f"{len(variants)} positive numbers, one per variant", self.weights)
        total = float(sum(weights))
        put(self, "weights", tuple(float(w) / total for w in weights))
        self._check_metrics()
        dims = _names(self.dimensions, "dimensions")
        reserved = {"variant", "multiple", "n", "unit", "first_exposure"}
        clash = [d for d in dims if d.lower() in reserved]
        if clash:
            raise InvalidInputError(
                f"Experiment: dimension name(s) {clash} clash with result columns {sorted(reserved)}."
            )
        put(self, "dimensions", dims)
        put(self, "cuped", Cuped.parse(self.cuped))
        alpha_ok = isinstance(self.alpha, int | float) and not isinstance(self.alpha, bool) and 0 < self.alpha < 0.5
        if not alpha_ok:
            raise _fail("Experiment", "alpha", "in (0, 0.5), e.g. 0.05", self.alpha)
        put(self, "alpha", float(self.alpha))
        if self.method not in METHODS:
            raise _fail("Experiment", "method", " | ".join(METHODS), self.method)
        if self.multiple_testing not in CORRECTIONS:
            raise _fail("Experiment", "multiple_testing", " | ".join(CORRECTIONS), self.multiple_testing)
        if not isinstance(self.relative, bool):
            raise _fail("Experiment", "relative", "true or false", self.relative)
        put(self, "start", parse_time(self.start, "start"))
        put(self, "end", parse_time(self.end, "end"))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise _fail("Experiment", "end", f"after start ({self.start.isoformat()})", self.end.isoformat())
        models = dict(self.models or {})
        unknown = [v for v in models if v not in variants]
        if unknown or not all(isinstance(u, str) and u for u in models.values()):
            raise _fail("Experiment", "models", f"a mapping of variants {list(variants)} to model URIs", self.models)
        put(self, "models", models)
        if isinstance(self.assignment, Mapping):
            put(self, "assignment", AssignmentSpec.from_dict(self.assignment))
        elif self.assignment is not None and not isinstance(self.assignment, AssignmentSpec):
            raise _fail("Experiment", "assignment", "an AssignmentSpec or its dict", self.assignment)

    def _check_metrics(self) -> None:
        put = object.__setattr__
        if not isinstance(self.primary_metric, str) or not self.primary_metric:
            raise _fail("Experiment", "primary_metric", "the name of the metric that decides", self.primary_metric)
        secondary = _names(self.secondary_metrics, "secondary_metrics")
        guardrails = _names(self.guardrail_metrics, "guardrail_metrics")
        for names, what in ((secondary, "secondary_metrics"), (guardrails, "guardrail_metrics")):
            if self.primary_metric in names:
                raise InvalidInputError(f"Experiment: the primary metric {self.primary_metric!r} is also in {what}.")
        both = sorted(set(secondary) & set(guardrails))
        if both:
            raise InvalidInputError(f"Experiment: metric(s) {both} are listed as both secondary and guardrail.")
        put(self, "secondary_metrics", secondary)
        put(self, "guardrail_metrics", guardrails)
        metrics = tuple(self.metrics.values()) if isinstance(self.metrics, Mapping) else tuple(self.metrics or ())
        if not all(isinstance(m, Metric) for m in metrics):
            raise _fail("Experiment", "metrics", "a list of Metric definitions", self.metrics)
        seen = [m.name for m in metrics]
        if len(set(seen)) != len(seen):
            raise InvalidInputError(
                f"Experiment: metrics defined twice: {sorted({n for n in seen if seen.count(n) > 1})}."
            )
        put(self, "metrics", metrics)

    # -- derived -------------------------------------------------------------------------------------

    @property
    def treatments(self) -> tuple[str, ...]:
        """The variants compared with control, in order."""
        return tuple(v for v in self.variants if v != self.control)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric the analysis computes: primary, then secondary, then guardrails."""
        return (self.primary_metric, *self.secondary_metrics, *self.guardrail_metrics)

    def role(self, metric: Metric) -> str:
        """``primary``, ``guardrail`` (listed or defined as one) or ``secondary``."""
        if metric.name == self.primary_metric:
            return "primary"
        if metric.name in self.guardrail_metrics or metric.guardrail:
            return "guardrail"
        return "secondary"

    def resolve_metrics(self, catalog: MetricCatalog | None = None) -> dict[str, Metric]:
        """Definitions of :attr:`metric_names`, inline ones first, then from ``catalog``.

        Raises :class:`NotFoundError` naming every metric that has no definition.
        """
        inline = {m.name: m for m in self.metrics}
        out: dict[str, Metric] = {}
        missing = []
        for name in self.metric_names:
            if name in inline:
                out[name] = inline[name]
            elif catalog is not None and name in catalog:
                out[name] = catalog.get(name)
            else:
                missing.append(name)
        if missing:
            known = sorted(set(inline) | set(catalog.names if catalog else ()))
            close = [c for n in missing for c in difflib.get_close_matches(n, known, n=1)]
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            where = (
                "inline 'metrics:' or the catalog" if catalog is not None else "inline 'metrics:' (no catalog given)"
            )
            raise NotFoundError(
                f"Experiment {self.name!r}: no definition for metric(s) {', '.join(map(repr, missing))} "
                f"in {where}.{hint}"
                f" Known metrics: {', '.join(known) or 'none'}."
            )
        return out

    # -- (de)serialisation ------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], catalog: MetricCatalog | None = None) -> Experiment:
        """Build from a mapping (the YAML form). With ``catalog``, referenced metrics are resolved now and
        embedded, so the experiment carries every definition it uses; unknown names raise NotFoundError."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"An experiment definition must be a mapping. Got {type(data).__name__}.")
        known = [f.name for f in dataclasses.fields(cls) if f.name != "_"]
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
                raise InvalidInputError(f"Experiment: unknown field {key!r}{hint}")
        kwargs = dict(data)
        for key in ("name", "exposures", "variants", "primary_metric"):
            if key not in kwargs:
                raise InvalidInputError(f"Experiment: {key!r} is missing.")
        if "metrics" in kwargs:
            kwargs["metrics"] = tuple(metrics_from_data(kwargs["metrics"], f"Experiment {kwargs['name']!r}"))
        experiment = cls(**kwargs)
        if catalog is not None:
            resolved = experiment.resolve_metrics(catalog)
            experiment = dataclasses.replace(experiment, metrics=tuple(resolved.values()))
        return experiment

    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike[str], catalog: MetricCatalog | None = None) -> Experiment:
        """Load from a YAML file or text (format in the module docstring)."""
        data = load_yaml(path_or_text, "experiment definition")
        return cls.from_dict(data, catalog=catalog)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``Experiment.from_dict(e.to_dict()) == e``."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "exposures": self.exposures.to_dict(),
            "variants": list(self.variants),
            "control": self.control,
            "weights": list(self.weights or ()),
            "primary_metric": self.primary_metric,
            "secondary_metrics": list(self.secondary_metrics),
            "guardrail_metrics": list(self.guardrail_metrics),
            "dimensions": list(self.dimensions),
            "cuped": None if self.cuped is None else {"pre_period": self.cuped.pre_period},
            "alpha": self.alpha,
            "method": self.method,
            "multiple_testing": self.multiple_testing,
            "relative": self.relative,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "models": dict(self.models),
            "assignment": None if self.assignment is None else self.assignment.to_dict(),
            "metrics": {
                m.name: {k: v for k, v in m.to_dict(compact=True).items() if k != "name"} for m in self.metrics
            },
        }
        return out

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """YAML text (also written to ``path`` when given) that :meth:`from_yaml` reads back."""
        data = {k: v for k, v in self.to_dict().items() if v not in (None, "", [], {})}
        text = dump_yaml(data)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text
