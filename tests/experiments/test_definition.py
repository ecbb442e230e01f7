"""Experiment definitions: the YAML format (inline metrics or catalog names), validation, round trips."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from assay.errors import InvalidInputError, NotFoundError
from assay.experiments import Cuped, Experiment, Exposures, Metric, MetricCatalog, definition
from assay.experiments.assign import AssignmentSpec

from .conftest import EXPERIMENT_YAML
from .test_metrics_catalog import CATALOG_YAML

BY_NAME = """
name: search-ranking
exposures: {source: exposures, unit_column: user_id}
variants: [a, b, c]
control: b
weights: [1, 2, 1]
primary_metric: conversion
secondary_metrics: [revenue]
guardrail_metrics: [latency_ms]
method: sequential
multiple_testing: bh
start: 2024-03-01
end: 2024-03-15T12:00:00+02:00
assignment: {name: search-ranking, variants: [a, b, c], weights: [1, 2, 1], traffic: 0.5}
"""


def _minimal(**changes: object) -> Experiment:
    base: dict[str, object] = {
        "exposures": {"source": "exposures"},
        "variants": ["control", "treatment"],
        "primary_metric": "revenue",
        "metrics": [Metric("revenue", source="events", value="amount")],
    }
    base.update(changes)
    return Experiment("exp", **base)  # type: ignore[arg-type]


def test_the_documented_example_loads() -> None:
    text = re.search(r"Example YAML.*?::\n\n(.*?)\n\n``start``", definition.__doc__ or "", re.S)
    assert text is not None
    e = Experiment.from_yaml(text.group(1))
    assert e.name == "checkout-v2" and e.control == "control" and e.treatments == ("treatment",)
    assert e.exposures == Exposures("exposures", "user_id", "variant", "exposed_at")
    assert e.cuped == Cuped("14d") and e.models == {"treatment": "models:/checkout-ranker/3"}
    assert [m.name for m in e.metrics] == ["conversion", "revenue", "revenue_per_order", "refund_rate"]
    assert e.resolve_metrics()["refund_rate"].margin == 0.1


def test_inline_metrics_and_roles() -> None:
    e = Experiment.from_yaml(EXPERIMENT_YAML)
    metrics = e.resolve_metrics()
    assert e.metric_names == ("conversion", "revenue", "purchases", "revenue_per_order", "max_order", "views")
    assert [e.role(metrics[n]) for n in ("conversion", "revenue", "views")] == ["primary", "secondary", "guardrail"]
    assert e.weights == (0.5, 0.5) and e.alpha == 0.05 and e.method == "fixed" and e.dimensions == ("country",)
    flagged = Metric("errors", source="events", value="1", guardrail=True)
    assert e.role(flagged) == "guardrail"  # defined as a guardrail in the catalog: tested as one


def test_catalog_names_are_resolved_and_embedded() -> None:
    catalog = MetricCatalog.from_yaml(CATALOG_YAML)
    e = Experiment.from_yaml(BY_NAME, catalog=catalog)
    assert [m.name for m in e.metrics] == ["conversion", "revenue", "latency_ms"]
    assert e.control == "b" and e.treatments == ("a", "c")
    assert e.weights == (0.25, 0.5, 0.25)
    assert e.start == dt.datetime(2024, 3, 1) and e.end == dt.datetime(2024, 3, 15, 10, 0)  # UTC, naive
    assert e.assignment == AssignmentSpec("search-ranking", ("a", "b", "c"), (1.0, 2.0, 1.0), traffic=0.5)
    assert e.method == "sequential" and e.multiple_testing == "bh"
    # without a catalog the names stay unresolved until analysis
    lazy = Experiment.from_yaml(BY_NAME)
    assert lazy.metrics == () and lazy.resolve_metrics(catalog)["latency_ms"] == catalog.get("latency_ms")


def test_unknown_metric_names_every_missing_one() -> None:
    catalog = MetricCatalog.from_yaml(CATALOG_YAML)
    text = BY_NAME.replace("[revenue]", "[revenu, bounce_rate]")
    with pytest.raises(NotFoundError, match=r"'revenu', 'bounce_rate'.*Did you mean 'revenue'\?.*Known metrics"):
        Experiment.from_yaml(text, catalog=catalog)
    with pytest.raises(NotFoundError, match=r"no catalog given"):
        Experiment.from_yaml(BY_NAME).resolve_metrics()


@pytest.mark.parametrize("source", ["yaml", "file", "dict"])
def test_round_trips(source: str, tmp_path: Path) -> None:
    for text in (EXPERIMENT_YAML, BY_NAME):
        e = Experiment.from_yaml(text, catalog=MetricCatalog.from_yaml(CATALOG_YAML))
        if source == "yaml":
            again = Experiment.from_yaml(e.to_yaml())
        elif source == "file":
            e.to_yaml(tmp_path / "exp.yaml")
            again = Experiment.from_yaml(tmp_path / "exp.yaml")
        else:
            again = Experiment.from_dict(e.to_dict())
        assert again == e


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": ["only"]}, "at least 2 distinct variant names"),
        ({"variants": ["a", "a"]}, "at least 2 distinct"),
        ({"control": "nobody"}, "'control' must be one of the variants"),
        ({"weights": [1]}, "2 positive numbers"),
        ({"weights": [1, -1]}, "2 positive numbers"),
        ({"alpha": 0.7}, r"'alpha' must be in \(0, 0.5\)"),
        ({"method": "frequentist"}, "fixed | sequential | bayesian"),
        ({"multiple_testing": "bonferroni"}, "holm | bh | none"),
        ({"cuped": {"pre_period": "two weeks"}}, "whole number with a unit"),
        ({"cuped": {"days": 14}}, r"\{pre_period: 14d\}"),
        ({"start": "yesterday"}, "ISO date"),
        ({"start": "2024-03-02", "end": "2024-03-01"}, "'end' must be after start"),
        ({"models": {"other": "models:/m/1"}}, "mapping of variants"),
        ({"dimensions": ["variant"]}, "clash with result columns"),
        ({"secondary_metrics": ["revenue"]}, "primary metric 'revenue' is also in secondary_metrics"),
        ({"secondary_metrics": ["x"], "guardrail_metrics": ["x"]}, "both secondary and guardrail"),
        ({"exposures": {"source": "drop table x"}}, "single SELECT"),
        ({"exposures": {"table": "x"}}, r"unknown field\(s\) \['table'\]"),
        ({"exposures": {"source": "x", "unit_column": ""}}, "'unit_column' must be a column name"),
        ({"metrics": [Metric("r", source="e", value="a"), Metric("r", source="e", value="b")]}, "defined twice"),
        ({"assignment": 3}, "AssignmentSpec"),
    ],
)
def test_validation_messages(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _minimal(**changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nvariants: [a, b]\nprimary_metric: m\n", "'exposures' is missing"),
        ("name: x\nexposures: e\nvariants: [a, b]\nprimary_metric: m\nmetrix: {}\n", "did you mean 'metrics'"),
        ("name: x\nexposures: e\nvariants: [a, b\n", "not valid YAML at line"),
        ("- 1\n- 2\n", "must be a mapping"),
        (EXPERIMENT_YAML.replace("end: 14d}", "end: 14 days later}", 1), "window end"),
    ],
)
def test_bad_yaml_gives_clear_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Experiment.from_yaml(text)


def test_cuped_forms() -> None:
    assert Cuped.parse(None) is None and Cuped.parse(False) is None
    assert Cuped.parse(True) == Cuped("14d") and Cuped.parse("7d").pre_period_seconds == 604800
    with pytest.raises(InvalidInputError, match="positive duration"):
        Cuped("-7d")
