"""End-to-end analysis: the right test per metric, multiple-testing families, data-quality reports,
result objects, and identical sufficient statistics on DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from assay.engine import Engine, connect
from assay.errors import NotFoundError
from assay.experiments import Experiment, ExperimentResult, MetricCatalog, analyze, stats

from .conftest import EXPERIMENT_YAML, ExperimentData, make_experiment_data
from .test_metrics_catalog import CATALOG_YAML


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return Experiment.from_yaml(EXPERIMENT_YAML)


@pytest.fixture(scope="module")
def result(experiment: Experiment, exp_data: ExperimentData) -> ExperimentResult:
    return analyze(experiment, sources=exp_data.frames)


def test_files_and_frames_give_the_same_result(result: ExperimentResult, experiment: Experiment,
                                               exp_data: ExperimentData) -> None:  # fmt: skip
    from_files = analyze(experiment, sources=exp_data.files)
    assert [(r.control_stats, r.treatment_stats) for r in from_files.results] == [
        (r.control_stats, r.treatment_stats) for r in result.results
    ]


def test_each_metric_gets_the_right_test(result: ExperimentResult) -> None:
    kinds = {r.metric: type(r.result) for r in result.overall}
    assert kinds == {
        "conversion": stats.CupedResult, "revenue": stats.CupedResult, "purchases": stats.TestResult,
        "revenue_per_order": stats.CupedResult, "max_order": stats.TestResult, "views": stats.MarginResult,
    }  # fmt: skip
    assert result.result("revenue_per_order").method == "cuped_ratio_delta_welch_t"
    assert result.result("views").result.margin == 0.05  # type: ignore[union-attr]
    assert result.result("views").result.higher_is_better  # type: ignore[union-attr]
    conversion = result.result("conversion")
    assert conversion.is_primary and conversion.outcome == "improved" and conversion.significant
    assert conversion.result.unadjusted.estimate > 0  # type: ignore[union-attr]  # unadjusted beside adjusted
    assert (
        isinstance(conversion.control_stats, stats.CupedStats)
        and conversion.control_stats.n == result.counts["control"]
    )


def test_known_lift_is_found(result: ExperimentResult) -> None:
    """Treatment buys 25% more often and each event is 25% likelier a purchase: about +56% purchases."""
    r = result.result("purchases")
    assert r.ci_low < 0.5625 < r.ci_high and r.outcome == "improved"


def test_multiple_testing_families(result: ExperimentResult, experiment: Experiment, exp_data: ExperimentData) -> None:
    secondary = [r for r in result.overall if r.role == "secondary"]
    holm = stats.adjust_pvalues([r.p_value for r in secondary], "holm")
    assert [r.adjusted_p_value for r in secondary] == pytest.approx(list(holm.adjusted))
    primary, guard = result.result("conversion"), result.result("views")
    assert primary.adjusted_p_value == primary.p_value and guard.adjusted_p_value == guard.p_value
    sliced = [r for r in result.results if r.slice and not r.is_guardrail]
    assert len(sliced) == 5 * 3  # primary + 4 secondary, 3 countries
    holm = stats.adjust_pvalues([r.p_value for r in sliced], "holm")
    assert [r.adjusted_p_value for r in sliced] == pytest.approx(list(holm.adjusted))
    none = analyze(dataclasses.replace(experiment, multiple_testing="none", dimensions=()), sources=exp_data.frames)
    assert all(r.adjusted_p_value == r.p_value for r in none.results) and len(none.results) == 6
    bh = analyze(dataclasses.replace(experiment, multiple_testing="bh", dimensions=()), sources=exp_data.frames)
    secondary = [r for r in bh.overall if r.role == "secondary"]
    expected = stats.adjust_pvalues([r.p_value for r in secondary], "bh").adjusted
    assert [r.adjusted_p_value for r in secondary] == pytest.approx(list(expected))


@pytest.mark.parametrize(
    ("method", "kind"), [("sequential", stats.SequentialResult), ("bayesian", stats.BayesianResult)]
)
def test_sequential_and_bayesian(method: str, kind: type, experiment: Experiment, exp_data: ExperimentData) -> None:
    r = analyze(dataclasses.replace(experiment, method=method, dimensions=()), sources=exp_data.frames)
    assert all(isinstance(x.result, kind) for x in r.overall if not x.is_guardrail)
    assert isinstance(r.result("views").result, stats.MarginResult)
    conversion = r.result("conversion")
    assert conversion.outcome == "improved"
    if method == "bayesian":
        assert math.isnan(conversion.adjusted_p_value) and conversion.result.chance_to_win > 0.99  # type: ignore[union-attr]


def test_data_problems_are_reported_not_hidden(result: ExperimentResult) -> None:
    issues = {i.kind: i for i in result.issues}
    assert issues["multiple_variants"].count == 12 and issues["multiple_variants"].severity == "warning"
    assert issues["unknown_variant"].count == 8 and issues["unknown_variant"].labels == ("treatmnt",)
    assert "'treatmnt' (8 units)" in issues["unknown_variant"].message
    assert result.counts == {"control": 1001, "treatment": 979}
    assert sum(result.counts.values()) == 2000 - 12 - 8
    assert result.srm.ok and result.srm.counts == (1001, 979)


def test_empty_arm_is_a_status_not_a_crash(experiment: Experiment, exp_data: ExperimentData) -> None:
    e = dataclasses.replace(experiment, variants=("control", "treatment", "ghost"), weights=None, dimensions=())
    r = analyze(e, sources=exp_data.frames)
    assert r.counts["ghost"] == 0
    empty = [i for i in r.issues if i.kind == "empty_arm"]
    assert len(empty) == 1 and empty[0].severity == "error" and "'ghost'" in empty[0].message
    ghost = [x for x in r.overall if x.variant == "ghost"]
    assert ghost and all(x.status == "insufficient_data" and x.outcome == "undefined" for x in ghost)
    assert not r.srm.ok  # a third of the traffic is missing
    assert r.result("conversion", "treatment").status == "ok"


def test_heavy_leakage_is_an_error(tmp_path: Path) -> None:
    data = make_experiment_data(300, seed=5, multi_units=30)
    r = analyze(Experiment.from_yaml(EXPERIMENT_YAML), sources=data.frames)
    assert {i.kind: i.severity for i in r.issues}["multiple_variants"] == "error"


def test_sample_ratio_mismatch_is_detected(experiment: Experiment) -> None:
    data = make_experiment_data(3000, seed=9)
    control = data.exposures["variant"] == "control"
    drop = data.exposures[control].sample(frac=0.2, random_state=1).index
    frames = {**data.frames, "exposures": data.exposures.drop(drop)}
    r = analyze(dataclasses.replace(experiment, dimensions=()), sources=frames)
    assert not r.srm.ok and r.srm.p_value < 0.001


def test_result_objects(result: ExperimentResult) -> None:
    text = result.summary()
    assert "Experiment checkout-v2: fixed-horizon analysis" in text and "Sample ratio OK" in text
    assert "12 units (0.6% of 2,000) were exposed to more than one variant" in text
    assert "conversion (primary), treatment vs control: With CUPED:" in text
    payload = result.to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["counts"] == {"control": 1001, "treatment": 979}
    assert payload["definition"]["models"] == {"treatment": "models:/checkout-ranker/3"}
    assert payload["results"][0]["result"]["adjusted"]["estimate"] == pytest.approx(result.results[0].estimate)
    frame = result.to_frame()
    assert len(frame) == len(result.results) == 6 + 6 * 3
    assert {"metric", "variant", "dimension", "slice", "estimate", "ci_low", "ci_high", "adjusted_p_value"} <= set(
        frame.columns
    )
    html = result._repr_html_()
    assert "<table>" in html and "revenue_per_order" in html
    assert "WITH exposed_units AS" in result.sql and set(result.timings) >= {"query_s", "total_s"}
    assert result.result("conversion", slice=("country", "DE")).slice == ("country", "DE")
    with pytest.raises(NotFoundError, match="No result for metric 'nope'"):
        result.result("nope")
    assert (
        "conversion (primary), treatment vs control [country = DE]"
        in result.result("conversion", slice=("country", "DE")).summary()
    )


def test_yaml_path_and_catalog(tmp_path: Path, exp_data: ExperimentData) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: by-name\nexposures: {source: exposures, unit_column: user_id, timestamp_column: exposed_at}\n"
        "variants: [control, treatment]\nprimary_metric: conversion\nsecondary_metrics: [revenue]\n"
    )
    catalog = MetricCatalog.from_yaml(
        CATALOG_YAML.replace("source: events\n", "source: events\n    timestamp_column: ts\n")
    )
    r = analyze(path, catalog=catalog, sources=exp_data.frames)
    assert [x.metric for x in r.results] == ["conversion", "revenue"]
    with connect() as eng:  # a caller's engine stays open, with its registrations
        analyze(path, catalog=catalog, engine=eng, sources=exp_data.frames)
        assert eng.scalar("select count(*) from events") == len(exp_data.events)


@pytest.fixture(scope="module")
def loaded(any_engine: Engine, exp_data: ExperimentData) -> Engine:
    for name, frame in exp_data.frames.items():
        any_engine.register(name, frame)
    return any_engine


def test_same_sufficient_statistics_on_every_engine(
    loaded: Engine, result: ExperimentResult, experiment: Experiment
) -> None:
    """DuckDB, PostgreSQL and Spark agree to the last bit (the data's sums are exact in floating point)."""
    other = analyze(experiment, engine=loaded)
    assert other.counts == result.counts
    assert {(i.kind, i.count) for i in other.issues} == {(i.kind, i.count) for i in result.issues}
    pairs = {(r.metric, r.variant, r.slice): (r.control_stats, r.treatment_stats) for r in other.results}
    assert pairs == {(r.metric, r.variant, r.slice): (r.control_stats, r.treatment_stats) for r in result.results}
