"""Model cards over a real store (SQLite and PostgreSQL): generated sections, missing fields, editing, rendering."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from assay.errors import InvalidInputError, NotFoundError
from assay.governance.card import (
    FAIRNESS_ARTIFACT,
    ModelCard,
    _metrics,
    card_fields,
    edit_card,
    model_card,
)
from assay.store.models import Event
from assay.tracking.client import Client

HUMAN = {
    "intended_use": "Rank customers by churn risk for retention calls.",
    "factors": "Region and tenure band; both evaluated.",
    "quantitative_analyses": "No person-level protected attributes are available.",
    "ethical_considerations": "Uses spend data; no protected attributes.",
    "caveats_and_recommendations": "Retrain quarterly; not for pricing.",
}


def _register(
    client: Client,
    tmp_path: Path,
    *,
    eval_data: bool = True,
    fairness: bytes | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"tenure": rng.integers(0, 60, 200), "spend": rng.normal(50, 10, 200)})
    y = (x["tenure"] < 12).astype(int)
    model = LogisticRegression(C=0.5, max_iter=300).fit(x, y)
    run = client.start_run(project="churn", name="train-lr")
    run.log_params(params or {"C": 0.5, "max_iter": 300})
    run.log_metrics({"auc": 0.91, "auc_ci_low": 0.88, "auc_ci_high": 0.94, "auc_ci_level": 0.95, "accuracy": 0.87})
    run.log_dataset(x.iloc[:150], role="train", name="customers")
    if eval_data:
        run.log_dataset(x.iloc[150:], role="test", name="customers_holdout")
    if fairness is not None:
        path = tmp_path / "fairness.json"
        path.write_bytes(fairness)
        run.log_artifact(path, FAIRNESS_ARTIFACT)
    mv = run.log_model(model, name="churn", input_example=x.head(5))
    run.end()
    return mv


def test_generated_sections_and_missing_fields(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_USER", "alice")
    mv = _register(client, tmp_path)
    card = model_card("models:/churn/1", client=client)
    assert (card.name, card.version, card.flavor, card.run_id) == ("churn", 1, "sklearn", mv.run_id)
    assert "LogisticRegression" in card.model_class
    assert card.author == "alice" and card.project == "churn" and card.run_name == "train-lr"
    assert card.params == {"C": "0.5", "max_iter": "300"}
    assert [f[0] for f in card.features] == ["tenure", "spend"]
    by_name = {m.name: m for m in card.metrics}
    assert set(by_name) == {"auc", "accuracy"}  # the interval companions fold into "auc"
    auc = by_name["auc"]
    assert (auc.value, auc.ci_low, auc.ci_high, auc.ci_level, auc.status) == (0.91, 0.88, 0.94, 0.95, "ok")
    assert by_name["accuracy"].status == "no_interval"
    assert [(d.role, d.name, d.num_rows, d.num_columns) for d in card.training_data] == [("train", "customers", 150, 2)]
    assert [(d.role, d.num_rows) for d in card.evaluation_data] == [("test", 50)]
    assert card.fairness is None and card.fairness_status == "missing"
    assert card.missing == (
        "intended_use",
        "factors",
        "quantitative_analyses",
        "ethical_considerations",
        "caveats_and_recommendations",
    )
    assert not card.complete
    assert "incomplete" in card.summary() and "intended use" in card.summary()
    assert "1 with an interval" in card.summary()

    md = card.to_markdown()
    for heading in (
        "## Model details",
        "## Intended use",
        "## Factors",
        "## Metrics",
        "## Evaluation data",
        "## Training data",
        "## Quantitative analyses",
        "## Ethical considerations",
        "## Caveats and recommendations",
    ):
        assert heading in md
    assert "INCOMPLETE model card" in md and "MISSING:" in md
    assert "| auc | 0.91 | [0.88, 0.94] (95%) | ok |" in md
    assert "No valid interval for accuracy (evaluation sample: 50 rows)" in md
    assert "customers_holdout" in md and "alice" in md and "| C | 0.5 |" in md
    page = card.to_html()
    assert page.startswith("<!DOCTYPE html>") and "role='alert'" in page and "INCOMPLETE" in page

    d = card.to_dict()
    assert d["complete"] is False and d["missing"][0] == "intended_use"
    json.dumps(d)  # JSON-safe throughout


def test_edit_completes_the_card_and_is_logged(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path)
    client.set_alias("churn", "production", 1)
    card = edit_card("models:/churn@production", HUMAN, client=client, actor="bob")
    assert card.complete and card.missing == ()
    assert card.fields["intended_use"] == HUMAN["intended_use"] and card.updated_by == "bob"
    assert "INCOMPLETE" not in card.to_markdown() and "role='alert'" not in card.to_html()
    assert "Retrain quarterly" in card.to_markdown() and "complete" in card.summary()

    # the same text again changes nothing and logs nothing; clearing a field makes the card incomplete again
    edit_card("churn/1", {"factors": HUMAN["factors"]}, client=client, actor="bob")
    card = edit_card(("churn", 1), {"factors": None}, client=client, actor="carol")
    assert card.missing == ("factors",) and card.updated_by == "carol"
    with client.db.read() as conn:
        events = conn.execute(
            select(Event.actor, Event.entity_id, Event.payload)
            .where(Event.action == "model.card_edit")
            .order_by(Event.id)
        ).all()
    assert [(e.actor, e.entity_id) for e in events] == [("bob", "churn/1"), ("carol", "churn/1")]
    assert events[0].payload["changes"]["ethical_considerations"] == HUMAN["ethical_considerations"]
    assert events[1].payload == {"changes": {"factors": None}}
    # a later edit of another field keeps the earlier ones
    card = edit_card(card_ref := model_card("churn/1", client=client), {"owners": "Data team"}, client=client)
    assert card_ref.fields.keys() < card.fields.keys() and card.fields["owners"] == "Data team"


def test_evaluation_data_missing_until_recorded_or_described(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path, eval_data=False)
    card = model_card("models:/churn/latest", client=client)
    assert "evaluation_data" in card.missing and card.evaluation_data == ()
    card = edit_card("models:/churn/1", {"evaluation_data": "Last month's renewals, 5% sample."}, client=client)
    assert "evaluation_data" not in card.missing
    assert "Last month's renewals" in card.to_markdown()


def test_fairness_report_fills_quantitative_analyses(client: Client, tmp_path: Path) -> None:
    report = {
        "summary": "Selection rates differ by 4 points between regions <north> and south.",
        "sensitive_feature": "region",
        "demographic_parity_difference": 0.04,
        "by_group": [
            {"group": "<script>alert('g')</script>", "n": 120, "selection_rate": 0.31},
            {"group": "south", "n": 80, "selection_rate": 0.27},
        ],
    }
    _register(client, tmp_path, fairness=json.dumps(report).encode())
    card = model_card("models:/churn/1", client=client)
    assert card.fairness_status == "ok" and card.fairness == report
    assert "quantitative_analyses" not in card.missing
    page = card.to_html()
    assert "demographic_parity_difference" in page and "selection_rate" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;north&gt;" in page
    md = card.to_markdown()
    assert "| &lt;script&gt;alert('g')&lt;/script&gt; | 120 | 0.31 |" in md and "<script>" not in md


def test_unreadable_fairness_report_is_a_note(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path, fairness=b"{not json")
    card = model_card("models:/churn/1", client=client)
    assert card.fairness_status == "unreadable" and "quantitative_analyses" in card.missing
    assert any("unreadable" in n for n in card.notes) and "## Notes" in card.to_markdown()


def test_user_text_cannot_inject_html(client: Client, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script> & <img src=x onerror=alert(2)> | pipe"
    _register(client, tmp_path, params={"C": "<b>0.5</b>", "note": "a|b\nc"})
    card = edit_card("models:/churn/1", {"intended_use": evil, "caveats_and_recommendations": evil}, client=client)
    page = card.to_html()
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in page
    assert "src=" not in page.replace("src=x", "")  # no external resources: nothing is loaded
    assert "href=" not in page and "<link" not in page
    md = card.to_markdown()
    assert "<script" not in md and "<img" not in md and "<b>" not in md
    assert "| note | a\\|b c |" in md  # table cells stay one row
    assert "<script" not in card._repr_html_()


def test_references_and_errors(client: Client, tmp_path: Path) -> None:
    mv = _register(client, tmp_path)
    client.set_alias("churn", "production", 1)
    for ref in ("models:/churn@production", "churn@production", "churn/1", ("churn", 1), mv):
        assert model_card(ref, client=client).uri == "models:/churn/1"
    with pytest.raises(InvalidInputError, match="registered version"):
        model_card(f"runs:/{mv.run_id}/model", client=client)
    with pytest.raises(NotFoundError, match="no version 7"):
        model_card("models:/churn/7", client=client)
    with pytest.raises(NotFoundError):
        model_card("models:/nope/1", client=client)
    with pytest.raises(InvalidInputError, match="allowed fields: overview, owners, intended_use"):
        edit_card("churn/1", {"intended_use": "x", "purpose": "y"}, client=client)
    with pytest.raises(InvalidInputError, match="must be text"):
        edit_card("churn/1", {"factors": 3}, client=client)
    with pytest.raises(InvalidInputError, match="limit is 20,000"):
        edit_card("churn/1", {"factors": "x" * 20_001}, client=client)
    with pytest.raises(InvalidInputError, match="non-empty dict"):
        edit_card("churn/1", {}, client=client)
    assert model_card("churn/1", client=client).fields == {}  # nothing written by the failed edits


def test_default_client_is_used(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path)  # the fixture installs client as the default
    assert isinstance(model_card("churn/1"), ModelCard)
    assert edit_card("churn/1", {"factors": "Region."}).fields["factors"] == "Region."


def test_card_fields_are_listed_with_descriptions() -> None:
    fields = card_fields()
    names = [f.name for f in fields]
    assert names[:3] == ["overview", "owners", "intended_use"]
    assert set(HUMAN) | {"evaluation_data"} == {f.name for f in fields if f.required}
    assert all(f.description for f in fields)
    evaluation = next(f for f in fields if f.name == "evaluation_data")
    assert "role test" in (evaluation.unless or "") and evaluation.to_dict()["required"] is True


def test_metric_interval_convention() -> None:
    got = {
        m.name: m
        for m in _metrics(
            {
                "auc": 0.9,
                "auc_ci_lower": 0.85,
                "auc_ci_upper": 0.95,
                "rmse": 2.0,
                "rmse_ci_low": 1.5,  # upper bound never logged
                "mae": 1.0,
                "mae_ci_low": 1.2,
                "mae_ci_high": 0.8,  # reversed
                "lift": math.nan,
                "lift_ci_low": 1.0,
                "lift_ci_high": 2.0,
                "orphan_ci_low": 0.1,  # no base metric: listed as a metric of its own
            }
        )
    }
    assert set(got) == {"auc", "rmse", "mae", "lift", "orphan_ci_low"}
    assert (got["auc"].ci_low, got["auc"].ci_high, got["auc"].status) == (0.85, 0.95, "ok")
    assert got["rmse"].status == "incomplete_interval" and got["rmse"].ci_high is None
    assert got["mae"].status == "invalid_interval"
    assert got["lift"].status == "nan" and math.isnan(got["lift"].value)
    assert got["orphan_ci_low"].status == "no_interval"
