"""Policy gates over a real store (SQLite and PostgreSQL): YAML rules, every gate passing and failing with its
evidence, missing evidence, saved and default policies, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from sqlalchemy import func, select
from typer.testing import CliRunner

from assay.cli.check import check_command, policy_set_command, policy_show_command
from assay.cli.main import _AssayGroup
from assay.cli.main import main as root_callback
from assay.data.contract import Contract
from assay.data.profile import profile
from assay.data.records import record
from assay.errors import InvalidInputError, PermissionDeniedError
from assay.governance import edit_card, explain_version, fairness
from assay.governance import identity as ident
from assay.governance.card import FAIRNESS_ARTIFACT
from assay.governance.policy import (
    DEFAULT_GATES,
    GateReport,
    Policy,
    check,
    default_policy,
    load_policy,
    save_policy,
)
from assay.store.models import Event
from assay.tracking.client import Client

CARD = {
    "intended_use": "Rank customers by churn risk for retention calls.",
    "factors": "Region; evaluated.",
    "ethical_considerations": "No protected attributes are model inputs.",
    "caveats_and_recommendations": "Retrain quarterly.",
}
CONTRACT = {"columns": {"tenure": {"type": "integer", "not_null": True, "min": 0}, "spend": {"type": "float"}}}


def _frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(0, 60, n) + int(shift * 40),
            "spend": rng.normal(50 + shift * 30, 10, n),
            "region": rng.choice(["north", "south"], n),
        }
    )


def _register(
    client: Client,
    tmp_path: Path,
    *,
    holdout: bool = True,
    fairness_report: bool = True,
    train_as_frame: bool = False,
) -> Any:
    train, test = _frame(0, 400), _frame(1, 200)
    feats = ["tenure", "spend"]
    y_train, y_test = (train["tenure"] < 15).astype(int), (test["tenure"] < 15).astype(int)
    model = LogisticRegression(max_iter=500).fit(train[feats], y_train)
    train_path, test_path = tmp_path / "customers_train.parquet", tmp_path / "holdout.parquet"
    train.to_parquet(train_path)
    test.to_parquet(test_path)
    with client.start_run(project="churn", capture_env=False) as run:
        run.log_metrics({"auc": 0.82, "logloss": 0.9, "holdout_logloss": 0.31})
        if train_as_frame:
            run.log_dataset(train, role="train", name="customers_train")
        else:
            run.log_dataset(train_path, role="train")
        if holdout:
            run.log_dataset(test_path, role="holdout")
        if fairness_report:
            rep = fairness(y_test, model.predict(test[feats]), test["region"], n_bootstrap=50)
            path = tmp_path / "fairness.json"
            path.write_text(json.dumps(rep.to_dict()))
            run.log_artifact(path, FAIRNESS_ARTIFACT)
        mv = run.log_model(model, name="churn", input_example=train[feats].head(5))
    return mv, train_path, test, y_test


def _by_kind(report: GateReport) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for g in report.gates:
        out.setdefault(g.kind, []).append(g)
    return out


# -- policy YAML ---------------------------------------------------------------------------------------
FULL = """
project: churn
description: Agreed with risk.
protected_aliases: [production, champion]
gates:
  - metric: {name: auc, min: 0.75}
  - metric: {name: logloss, max: 0.5, dataset: holdout}
  - fairness: {max_demographic_parity_difference: 0.1, min_four_fifths_ratio: 0.8}
  - contract: {dataset: customers_train}
  - card_complete: true
  - explanations: true
  - drift: {max_share_drifted: 0.3, current: data/recent.parquet}
"""


def test_policy_yaml_round_trip(tmp_path: Path) -> None:
    pol = Policy.from_yaml(FULL)
    assert pol.project == "churn" and pol.protected_aliases == ("production", "champion")
    assert [g.kind for g in pol.gates] == [
        "metric", "metric", "fairness", "contract", "card_complete", "explanations", "drift",
    ]  # fmt: skip
    assert pol.protects("champion") and not pol.protects("staging")
    file = tmp_path / "churn.yaml"
    file.write_text(pol.to_yaml())
    again = Policy.from_yaml(file)
    assert again.spec() == pol.spec() and Policy.from_yaml(str(file)).spec() == pol.spec()
    assert Policy.from_dict({"gates": [{"card_complete": True}]}).protected_aliases == ("production",)
    assert "7 gate(s)" in pol.summary()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("project: churn\ngates: [{card_complete: true}]\nowner: me", "unknown key.*owner.*allowed keys: project"),
        ("gates: [{accuracy: {min: 1}}]", "unknown gate 'accuracy'.*allowed gates: metric, fairness"),
        ("gates: [{metric: {name: auc, minimum: 0.7}}]", "unknown key.*minimum.*allowed keys: name, min, max"),
        ("gates: [{metric: {name: auc}}]", "min and/or max"),
        ("gates: [{metric: {name: auc, min: 0.9, max: 0.8}}]", "above max"),
        ("gates: [{metric: {name: auc, min: true}}]", "finite number"),
        ("gates: [{card_complete: false}]", "remove the gate"),
        ("gates: [{fairness: {max_demographic_parity_difference: 2}}]", "between 0.0 and 1.0"),
        ("gates: [{drift: {max_share_drifted: 0.3}}]", "max_share_drifted and current"),
        ("gates: [{metric: {name: auc, min: 1}, card_complete: true}]", "exactly one"),
        ("gates: []", "non-empty list"),
        ("protected_aliases: production\ngates: [{card_complete: true}]", "list of alias names"),
        ("- just a list", "a policy is a mapping"),
        ("gates: [unclosed", "not valid YAML"),
        ("missing.yaml", "the policy: file not found"),
    ],
)
def test_policy_errors_say_what_to_fix(text: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Policy.from_yaml(text)


# -- gates on a version ----------------------------------------------------------------------------------
def test_every_gate_passes_with_evidence(client: Client, tmp_path: Path) -> None:
    mv, train_path, test, y_test = _register(client, tmp_path)
    record(Contract.from_dict(CONTRACT).validate(train_path), train_path, client=client)
    edit_card(mv.uri, CARD, client=client)
    explain_version(client, mv.uri, test[["tenure", "spend"]], y_test, n_repeats=2)
    recent = tmp_path / "recent.parquet"
    _frame(5, 400).to_parquet(recent)
    text = FULL.replace("data/recent.parquet", str(recent))
    text = text.replace("difference: 0.1", "difference: 0.5").replace("ratio: 0.8", "ratio: 0.2")
    report = check("models:/churn/1", Policy.from_yaml(text), client=client)
    assert report.passed, report.summary()
    assert all(g.status == "pass" for g in report.gates) and len(report.gates) == 8  # fairness: 2 criteria
    kinds = _by_kind(report)
    auc = kinds["metric"][0]
    assert (auc.value, auc.threshold, auc.gate) == (0.82, 0.75, "metric auc ≥ 0.75")
    assert f"run {mv.run_id[:8]} metric auc = 0.82" in auc.evidence
    holdout = kinds["metric"][1]
    assert holdout.value == 0.31 and "holdout_logloss" in holdout.evidence and "200 rows" in holdout.evidence
    assert all(FAIRNESS_ARTIFACT in g.evidence and "across region" in g.evidence for g in kinds["fairness"])
    assert "passed" in kinds["contract"][0].evidence and "customers_train version" in kinds["contract"][0].evidence
    assert "every required section" in kinds["card_complete"][0].evidence
    assert "governance/explanations/churn/v1.json" in kinds["explanations"][0].evidence
    drift_gate = kinds["drift"][0]
    assert drift_gate.value == 0.0 and "the training file" in drift_gate.evidence
    assert report.summary().startswith("churn v1 passes the churn policy: 8 of 8 gate(s) pass.")
    assert report.to_dict()["gates"][0]["status"] == "pass"


def test_gates_fail_with_evidence(client: Client, tmp_path: Path) -> None:
    _, train_path, _, _ = _register(client, tmp_path)
    strict = dict(CONTRACT, columns={**CONTRACT["columns"], "tenure": {"type": "integer", "max": 10}})
    record(Contract.from_dict(strict).validate(train_path), train_path, client=client)
    shifted = tmp_path / "shifted.parquet"
    _frame(9, 400, shift=1.0).to_parquet(shifted)
    policy = {
        "gates": [
            {"metric": {"name": "auc", "min": 0.9}},
            {"metric": {"name": "logloss", "min": 0.0, "max": 0.2, "dataset": "holdout"}},
            {"fairness": {"max_demographic_parity_difference": 0.0001}},
            {"contract": {"dataset": "customers_train"}},
            {"card_complete": True},
            {"drift": {"max_share_drifted": 0.3, "current": str(shifted)}},
        ]
    }
    report = check(("churn", 1), policy, client=client)
    assert not report.passed
    status = {g.gate: g.status for g in report.gates}
    assert status == {
        "metric auc ≥ 0.9": "fail",
        "metric logloss ≥ 0 on holdout": "pass",
        "metric logloss ≤ 0.2 on holdout": "fail",
        "fairness demographic_parity_difference ≤ 0.0001": "fail",
        "contract customers_train": "fail",
        "card complete": "fail",
        "drift share ≤ 0.3 vs " + str(shifted): "fail",
    }
    kinds = _by_kind(report)
    assert "0.82 is below the minimum 0.9" in kinds["metric"][0].detail
    assert "FAILED" in kinds["contract"][0].evidence and "tenure" in kinds["contract"][0].detail
    assert "intended_use" in kinds["card_complete"][0].evidence and kinds["card_complete"][0].value > 0
    assert (
        abs(kinds["drift"][0].value - 2 / 3) < 1e-12 and "2 of 3 compared columns drifted" in kinds["drift"][0].evidence
    )
    assert "does not pass" in report.summary() and "Failed: metric auc ≥ 0.9" in report.summary()
    # a newer, passing validation of the same data is the one that counts
    record(Contract.from_dict(CONTRACT).validate(train_path), train_path, client=client)
    again = check(("churn", 1), {"gates": [{"contract": {"dataset": "customers_train"}}]}, client=client)
    assert again.passed


def test_missing_evidence_is_a_failure_not_a_crash(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path, holdout=False, fairness_report=False, train_as_frame=True)
    policy = {
        "gates": [
            {"metric": {"name": "logloss", "max": 0.5, "dataset": "holdout"}},
            {"metric": {"name": "recall", "min": 0.5}},
            {"fairness": {"max_demographic_parity_difference": 0.1}},
            {"contract": {"dataset": "customers_train"}},
            {"contract": {"dataset": "no_such_data"}},
            {"explanations": True},
            {"drift": {"max_share_drifted": 0.3, "current": str(tmp_path / "customers_train.parquet")}},
        ]
    }
    report = check("churn/1", policy, client=client)
    assert not report.passed
    assert [g.status for g in report.gates] == ["missing_evidence"] * 7
    ev = [g.evidence + " " + g.detail for g in report.gates]
    assert "no input named or with role 'holdout'" in ev[0] and "customers_train (train)" in ev[0]
    assert "logged no metric recall" in ev[1]
    assert f"has no {FAIRNESS_ARTIFACT}" in ev[2] and "governance.fairness" in ev[2]
    assert "no validation recorded for customers_train" in ev[3] and "assay data validate" in ev[3]
    assert "no input named or with role 'no_such_data'" in ev[4]
    assert "no stored explanation" in ev[5]
    assert "logged from a DataFrame" in ev[6] and "no profile" in ev[6]
    assert "Missing evidence:" in report.summary()


def test_drift_falls_back_to_the_stored_profile_and_errors_are_reported(client: Client, tmp_path: Path) -> None:
    _, train_path, _, _ = _register(client, tmp_path)
    record(profile(train_path), train_path, dataset="customers_train", client=client)
    _frame(3, 50).to_parquet(train_path)  # the training file changed after the run: its profile is the reference
    same = tmp_path / "same.parquet"
    _frame(0, 400).to_parquet(same)
    report = check("churn/1", {"gates": [{"drift": {"max_share_drifted": 0.5, "current": str(same)}}]}, client=client)
    (gate,) = report.gates
    assert gate.status == "pass" and "the stored profile of customers_train" in gate.evidence
    gone = {"gates": [{"drift": {"max_share_drifted": 0.5, "current": str(tmp_path / "nope.parquet")}}]}
    (err,) = check("churn/1", gone, client=client).gates
    assert err.status == "error" and not err.passed and "nope.parquet" in err.detail
    bad = tmp_path / FAIRNESS_ARTIFACT
    bad.parent.mkdir(parents=True)
    bad.write_text("not json")
    mv = client.registry.get_version("churn", 1)
    client.log_artifact(mv.run_id, bad, FAIRNESS_ARTIFACT)
    (unreadable,) = check("churn/1", {"gates": [{"fairness": {"min_demographic_parity_ratio": 0.8}}]},
                          client=client).gates  # fmt: skip
    assert unreadable.status == "error" and "unreadable" in unreadable.evidence


def test_default_and_saved_policies(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_USER", "risk-officer")
    mv, *_ = _register(client, tmp_path)
    pol = load_policy("churn", client=client)
    assert pol.source == "default" and [g.to_dict() for g in pol.gates] == list(DEFAULT_GATES)
    assert default_policy("x").protected_aliases == ("production",)
    report = check(mv.uri, client=client)  # no policy saved: the card must be complete
    assert report.policy_source == "default" and [g.kind for g in report.gates] == ["card_complete"]
    assert not report.passed and "the default policy" in report.summary()
    saved = save_policy({"project": "churn", "gates": [{"metric": {"name": "auc", "min": 0.8}}]}, client=client)
    assert saved.source == "saved" and saved.saved_by == "risk-officer" and saved.digest
    assert load_policy("churn", client=client).spec() == saved.spec()
    again = save_policy(saved, client=client)  # unchanged: nothing new recorded
    assert again.digest == saved.digest
    with client.db.read() as conn:
        n = conn.execute(select(func.count()).select_from(Event).where(Event.action == "policy.save")).scalar_one()
    assert n == 1
    report = check(mv.uri, client=client)
    assert report.passed and report.policy_source == "saved" and report.project == "churn"
    save_policy(Policy.from_yaml("project: churn\ngates: [{metric: {name: auc, min: 0.9}}]"), client=client)
    assert not check(mv.uri, client=client).passed  # the newest saved policy is in force
    other = check(mv.uri, {"project": "ltv", "gates": [{"metric": {"name": "auc", "min": 0.5}}]}, client=client)
    assert other.passed and "'ltv'" in other.notes[0]
    with pytest.raises(InvalidInputError, match="needs `project:`"):
        save_policy({"gates": [{"card_complete": True}]}, client=client)


def test_only_admins_save_policies_in_a_multi_user_store(client: Client) -> None:
    root_token = ident.add_user("root", role="admin", client=client)["token"]
    root = Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url, token=root_token)
    ident.add_user("sci", role="scientist", project="churn", client=root)
    sci_token = ident.create_token("sci", client=root)
    sci = Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url, token=sci_token)
    policy = {"project": "churn", "gates": [{"metric": {"name": "auc", "min": 0.99}}]}
    with pytest.raises(PermissionDeniedError, match="needs the admin role in project 'churn'"):
        save_policy(policy, client=sci)
    assert load_policy("churn", client=sci).source == "default"
    assert save_policy(policy, client=root).saved_by == "root"
    assert load_policy("churn", client=sci).saved_by == "root"  # anyone may read the policy in force


# -- CLI -----------------------------------------------------------------------------------------------
def _cli() -> typer.Typer:
    app = typer.Typer(cls=_AssayGroup, add_completion=False)
    app.callback()(root_callback)
    models = typer.Typer()
    models.command("check")(check_command)
    policy = typer.Typer()
    policy.command("set")(policy_set_command)
    policy.command("show")(policy_show_command)
    models.add_typer(policy, name="policy")
    app.add_typer(models, name="models")
    return app


def test_cli_check_and_policy_commands(client: Client, tmp_path: Path) -> None:
    _register(client, tmp_path)
    runner, app = CliRunner(), _cli()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    shown = runner.invoke(app, [*base, "models", "policy", "show", "churn"])
    assert shown.exit_code == 0 and "default" in shown.output and "card_complete: true" in shown.output
    failing = runner.invoke(app, [*base, "models", "check", "churn", "1"])
    assert failing.exit_code == 1 and "card complete" in failing.output and "FAIL" in failing.output
    file = tmp_path / "policy.yaml"
    file.write_text("project: churn\ngates:\n  - metric: {name: auc, min: 0.75}\n")
    saved = runner.invoke(app, [*base, "models", "policy", "set", str(file)])
    assert saved.exit_code == 0, saved.output
    assert "Saved the churn policy" in saved.output
    shown = runner.invoke(app, [*base, "models", "policy", "show", "churn", "--json"])
    assert json.loads(shown.output)["source"] == "saved"
    passing = runner.invoke(app, [*base, "models", "check", "churn", "1", "--json"])
    assert passing.exit_code == 0, passing.output
    out = json.loads(passing.output)
    assert out["passed"] is True and out["gates"][0]["value"] == 0.82 and "metric auc" in out["gates"][0]["evidence"]
    draft = tmp_path / "draft.yaml"
    draft.write_text("gates: [{metric: {name: auc, min: 0.95}}]\n")
    strict = runner.invoke(app, [*base, "models", "check", "churn", "1", "--policy", str(draft), "--json"])
    assert strict.exit_code == 1 and json.loads(strict.output)["gates"][0]["status"] == "fail"
    draft.write_text("gates: [{metric: {name: auc, minimum: 0.95}}]\n")
    bad = runner.invoke(app, [*base, "models", "check", "churn", "1", "--policy", str(draft)])
    assert bad.exit_code == 2 and "minimum" in bad.output
    missing = runner.invoke(app, [*base, "models", "check", "churn", "7"])
    assert missing.exit_code == 3
