"""Persisting analyses: experiment, variants linked to model versions, metric rows and audit events,
on SQLite and PostgreSQL (the ``client`` fixture); the analysis itself runs once on DuckDB."""

from __future__ import annotations

import dataclasses
import math

import pytest
from sklearn.dummy import DummyClassifier
from sqlalchemy import func, select

from assay.errors import InvalidInputError, NotFoundError
from assay.experiments import (
    Experiment,
    ExperimentResult,
    Readout,
    analyze,
    experiments_for_model,
    list_experiments,
    load_experiment,
    save_result,
)
from assay.experiments.persist import metric_row, slice_text
from assay.store.models import Event, ExperimentAnalysis, ExperimentMetricResult
from assay.tracking.client import Client

from .conftest import EXPERIMENT_YAML, ExperimentData


@pytest.fixture(scope="module")
def result(exp_data: ExperimentData) -> ExperimentResult:
    """The default synthetic experiment analysed on DuckDB, without a model link."""
    experiment = dataclasses.replace(Experiment.from_yaml(EXPERIMENT_YAML), models={})
    return analyze(experiment, sources=exp_data.files)


def _with_models(result: ExperimentResult, models: dict[str, str]) -> ExperimentResult:
    return dataclasses.replace(result, definition=dataclasses.replace(result.definition, models=models))


def _register_ranker(client: Client, versions: int = 1) -> None:
    with client.start_run(project="ranking", capture_env=False) as run:
        for _ in range(versions):
            run.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), "checkout-ranker")


def _count(client: Client, what: object, *where: object) -> int:
    with client.db.read() as conn:
        return conn.execute(select(func.count()).select_from(what).where(*where)).scalar_one()  # type: ignore[arg-type]


def test_save_and_load_round_trip(client: Client, result: ExperimentResult) -> None:
    readout = Readout.from_result(result)
    analysis_id = save_result(result, client=client)
    loaded = load_experiment("checkout-v2", client)
    assert loaded["status"] == "running" and loaded["analyses"] == 1
    assert Experiment.from_dict(loaded["definition"]) == result.definition
    assert [(v["name"], v["weight"], v["is_control"], v["model"]) for v in loaded["variants"]] == [
        ("control", 0.5, True, None),
        ("treatment", 0.5, False, None),
    ]
    (analysis,) = loaded["latest_analyses"]
    assert analysis["id"] == analysis_id and analysis["decision"] == readout.decision == "ship"
    assert analysis["summary"] == readout.summary()
    assert analysis["srm_p_value"] == pytest.approx(result.srm.p_value)
    assert analysis["result"] == result.to_dict()
    rows = analysis["metrics"]
    assert len(rows) == len(result.results) == 6 + 18  # 6 metrics overall, × 3 countries
    primary = next(m for m in rows if m["role"] == "primary" and m["slice"] is None)
    expected = result.result("conversion")
    assert primary["metric"] == "conversion" and primary["variant"] == "treatment" and primary["relative"]
    assert (primary["estimate"], primary["ci_low"], primary["ci_high"]) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert primary["p_value"] == pytest.approx(expected.p_value) and primary["status"] == "ok"
    assert {m["role"] for m in rows} == {"primary", "secondary", "guardrail"}
    guard = next(m for m in rows if m["role"] == "guardrail" and m["slice"] is None)
    assert guard["ci_low"] == -math.inf or guard["ci_high"] == math.inf  # one-sided bound kept as ±inf
    assert {m["slice"] for m in rows} == {None, "country=DE", "country=FR", "country=US"}
    assert list_experiments(client)[0]["name"] == "checkout-v2"


def test_reanalysis_appends_and_audit_event(client: Client, result: ExperimentResult) -> None:
    first = save_result(result, client=client)
    second = save_result(result, client=client, status="concluded")
    assert second > first
    loaded = load_experiment("checkout-v2", client, analyses=10)
    assert loaded["analyses"] == 2 and loaded["status"] == "concluded"
    assert [a["id"] for a in loaded["latest_analyses"]] == [second, first]
    assert load_experiment("checkout-v2", client, analyses=0)["latest_analyses"] == []
    with client.db.read() as conn:
        events = conn.execute(
            select(Event.actor, Event.entity_type, Event.entity_id, Event.payload)
            .where(Event.action == "experiment.analyze")
            .order_by(Event.id)
        ).all()
    assert [(e.entity_type, e.entity_id, e.payload["analysis_id"]) for e in events] == [
        ("experiment", "checkout-v2", first),
        ("experiment", "checkout-v2", second),
    ]
    assert events[0].payload["decision"] == "ship" and events[0].payload["variant"] == "treatment"
    assert events[0].actor


def test_variant_linked_to_registered_model(client: Client, result: ExperimentResult) -> None:
    _register_ranker(client, versions=2)
    client.set_alias("checkout-ranker", "production", 1)
    save_result(_with_models(result, {"treatment": "models:/checkout-ranker@production"}), client=client)
    loaded = load_experiment("checkout-v2", client)
    treatment = loaded["variants"][1]
    assert treatment["model"] == "models:/checkout-ranker/1"  # the alias resolved when saved
    assert treatment["model_uri"] == "models:/checkout-ranker@production"
    (link,) = experiments_for_model("checkout-ranker", client=client)
    assert (link["experiment"], link["variant"], link["version"], link["decision"]) == (
        "checkout-v2", "treatment", 1, "ship",
    )  # fmt: skip
    assert link["model"] == "models:/checkout-ranker/1" and link["analyses"] == 1
    (primary,) = link["primary"]
    assert primary["metric"] == "conversion" and primary["estimate"] == pytest.approx(result.primary[0].estimate)
    assert experiments_for_model("checkout-ranker", 1, client) == [link]
    assert experiments_for_model("checkout-ranker", 2, client) == []
    save_result(_with_models(result, {"treatment": "models:/checkout-ranker/latest"}), client=client)
    assert experiments_for_model("checkout-ranker", 2, client)[0]["analyses"] == 2
    with pytest.raises(NotFoundError, match="no version 9"):
        experiments_for_model("checkout-ranker", 9, client)
    with pytest.raises(NotFoundError, match="model 'nope' not found"):
        experiments_for_model("nope", client=client)


def test_unknown_model_writes_nothing(client: Client, result: ExperimentResult) -> None:
    with pytest.raises(NotFoundError, match="model 'checkout-ranker' not found"):
        save_result(_with_models(result, {"treatment": "models:/checkout-ranker/3"}), client=client)
    _register_ranker(client)
    with pytest.raises(NotFoundError, match="no version 3"):
        save_result(_with_models(result, {"treatment": "models:/checkout-ranker/3"}), client=client)
    with pytest.raises(InvalidInputError, match="logged in a run"):
        save_result(_with_models(result, {"treatment": "runs:/abc123/model"}), client=client)
    assert list_experiments(client) == []
    assert _count(client, ExperimentAnalysis) == _count(client, ExperimentMetricResult) == 0
    assert _count(client, Event, Event.action == "experiment.analyze") == 0
    with pytest.raises(NotFoundError, match="experiment 'checkout-v2' not found"):
        load_experiment("checkout-v2", client)


def test_default_client_and_bad_arguments(client: Client, result: ExperimentResult) -> None:
    analysis_id = save_result(result)  # the client fixture is installed as assay's default client
    assert load_experiment("checkout-v2")["latest_analyses"][0]["id"] == analysis_id
    with pytest.raises(InvalidInputError, match="'status' parameter"):
        save_result(result, client=client, status="done")
    with pytest.raises(InvalidInputError, match="ExperimentResult"):
        save_result(result.to_dict(), client=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="'version' parameter"):
        experiments_for_model("checkout-ranker", 0, client)


def test_metric_row_and_slice_text(result: ExperimentResult) -> None:
    assert slice_text(None) is None and slice_text(("country", "DE")) == "country=DE"
    assert len(slice_text(("d", "x" * 600)) or "") == 512
    row = metric_row(result.result("conversion", slice=("country", "FR")))
    assert row["slice"] == "country=FR" and row["role"] == "primary" and isinstance(row["estimate"], float)
