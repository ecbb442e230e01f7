"""The end-to-end demo on a real store: every step of the loop recorded, and the recorded figures make sense
against the truths built into the generated company (the A/B effect, the drift that starts in week 5)."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import assay
from assay.demo import customers, run_demo
from assay.demo import scenario as scenario_module
from assay.demo._train import boosting_spec
from assay.demo.activity import DRIFT_FROM_WEEK, TRUE_LIFT, WEEKS
from assay.errors import InvalidInputError
from assay.experiments import experiments_for_model, load_experiment
from assay.governance import approvals, audit_log
from assay.governance.identity import current_identity
from assay.monitoring import incidents
from assay.serving import read_prediction_log
from assay.tracking.client import Client

ROWS = 6_000  # enough customers for the A/B test to find an 8% lift; every step of the 30,000-row default runs


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


def _as(client: Client, token: str) -> Client:
    s = client.settings
    return Client(store_url=s.store_url, artifacts_url=s.artifacts_url, home=s.home, token=token)


@pytest.mark.slow
def test_the_whole_loop_records_figures_that_make_sense(client: Client) -> None:
    console, out = _console()
    summary = run_demo(rows=ROWS, seed=7, console=console, client=client)
    text = out.getvalue()
    json.dumps(summary)  # JSON-safe, for `assay demo --json`
    _check_data_and_runs(client, summary)
    _check_governance(client, summary)
    _check_serving(client, summary)
    _check_monitoring(client, summary)
    _check_experiment(client, summary)
    _check_reports_team_and_output(client, summary, text)


def _check_data_and_runs(client: Client, summary: dict[str, Any]) -> None:
    assert all(c["passed"] for c in summary["data"]["contracts"].values())
    assert set(summary["data"]["contracts"]) == {"customers", "orders", "customers_train"}
    stored = assay.data.load_profile("customers", client=client)
    assert stored.rows == ROWS
    for name in ("customers", "orders", "demographics", "sessions", "traffic", "labels", "train", "test"):
        assert Path(summary["data"]["files"][name]).exists()
    runs = {r["name"]: r for r in summary["runs"]}
    assert set(runs) == {"logistic-regression", "lightgbm"}
    for r in runs.values():
        info = client.run_info(r["run_id"])
        assert info["status"] == "finished" and info["user"] == "ana"  # trained by the demo's scientist
        assert r["auc_ci_low"] < r["auc"] < r["auc_ci_high"] and 0.7 < r["auc"] < 0.9
        paths = {a["path"] for a in client.list_artifacts(r["run_id"])}
        assert {"governance/fairness.json", f"governance/explanations/churn/v{r['version']}.json"} <= paths
        assert "evaluation/roc_curve.csv" in paths and "model/assay-model.json" in paths
    best = max(runs.values(), key=lambda r: r["auc"])
    assert summary["chosen"]["run_id"] == best["run_id"]


def _check_governance(client: Client, summary: dict[str, Any]) -> None:
    chosen = summary["chosen"]["version"]
    approval = summary["approval"]
    assert approval["gates_passed"] and approval["override"] is None
    assert {g["status"] for g in approval["gates"]} == {"pass"} and len(approval["gates"]) == 5
    # the approval is recorded: ana asked, rui (not the author) approved, the promotion used it
    requests = approvals.list_requests(model="churn", client=client)
    req = next(r for r in requests if r["id"] == approval["request_id"])
    assert (req["version"], req["state"], req["requested_by"], req["decided_by"]) == (chosen, "used", "ana", "rui")
    promote = [e for e in audit_log(model="churn", client=client) if e["action"] == "model.promote"]
    assert promote[-1]["payload"]["approved_by"] == "rui" and promote[-1]["actor"] == "ana"
    # the alias points at the approved version
    _, production, _ = client.registry.resolve("models:/churn@production")
    assert production is not None and production.version == chosen == approval["version"]
    assert production.aliases == ("production",)


def _check_serving(client: Client, summary: dict[str, Any]) -> None:
    serving = summary["serving"]
    scored = pd.read_parquet(serving["scored_path"])
    assert len(scored) == serving["scored_rows"] == WEEKS * (ROWS // 10)
    assert scored["probability_1"].between(0, 1).all() and "scored_at" in scored.columns
    assert serving["mean_score"] == pytest.approx(scored["probability_1"].mean())
    predictor = client.load_model("models:/churn@production")
    fresh = customers(50, seed=99, first_id=10**6)
    p = predictor.predict_proba(fresh)[:, 1]
    assert p.shape == (50,) and np.all((p >= 0) & (p <= 1))
    log = read_prediction_log("churn", client=client)
    assert len(log) == serving["logged_rows"] == serving["online_rows"] > 0
    assert {int(v) for v in log["version"]} == {summary["chosen"]["version"]} == {serving["online_version"]}


def _check_monitoring(client: Client, summary: dict[str, Any]) -> None:
    mon = summary["monitoring"]
    weeks = mon["weeks"]
    assert len(weeks) == WEEKS
    before, after = weeks[:DRIFT_FROM_WEEK], weeks[DRIFT_FROM_WEEK:]
    assert all(w["status"] == "ok" and w["share_drifted"] < 0.3 and not w["alerts"] for w in before)
    assert all("feature_drift" in w["alerts"] and w["share_drifted"] >= 0.5 for w in after)
    assert mon["first_alert_week"] == DRIFT_FROM_WEEK + 1
    assert all(w["auc"] > 0.7 for w in before)
    still_open = incidents.list_incidents(state="open", monitor="churn-prod", client=client)
    assert [i.id for i in still_open] == mon["open_incidents"] and len(still_open) == 1
    assert still_open[0].model_version == summary["chosen"]["version"] and still_open[0].alert_count == WEEKS - 4


def _check_experiment(client: Client, summary: dict[str, Any]) -> None:
    exp = summary["experiment"]
    primary = exp["primary"]
    # the readout finds the injected effect: significant, the right sign, the interval covering the truth
    assert exp["true_lift"] == TRUE_LIFT
    assert primary["metric"] == "revenue" and primary["significant"] and primary["estimate"] > 0
    assert primary["ci_low"] > 0 and primary["ci_low"] <= TRUE_LIFT <= primary["ci_high"] and exp["covers_truth"]
    assert exp["variance_reduction"] > 0.3  # CUPED's pre-period covariate narrows the interval
    assert exp["units"] == ROWS
    stored = load_experiment(exp["name"], client=client)
    assert stored is not None
    linked = experiments_for_model("churn", summary["chosen"]["version"], client=client)
    assert exp["name"] in json.dumps(linked, default=str)


def _check_reports_team_and_output(client: Client, summary: dict[str, Any], text: str) -> None:
    reports = summary["reports"]
    assert set(reports) == {"experiment", "model", "portfolio"}
    html = Path(reports["experiment"]["path"]).read_text(encoding="utf-8")
    assert reports["experiment"]["decision"] == "Ship treatment" and "Ship treatment" in html
    for r in reports.values():
        page = Path(r["path"]).read_text(encoding="utf-8")
        assert r["decision"] in page and '<script src="http' not in page  # says the decision, opens offline
    team = json.loads(Path(summary["team"]["team_file"]).read_text(encoding="utf-8"))
    env = Path(summary["team"]["tokens_file"]).read_text(encoding="utf-8")
    for name, token in team["tokens"].items():
        assert token in env and token in text  # written and printed for the newcomer
        who = _as(client, token)
        try:
            assert current_identity(who).user == name
        finally:
            who.close()
    assert set(summary["timings"]) >= {"generate", "contracts", "governance", "approval", "batch_scoring",
                                       "online_scoring", "monitoring", "experiment", "reports", "total"}  # fmt: skip
    assert all(v >= 0 for v in summary["timings"].values()) and summary["elapsed_s"] > 0
    for fragment in (summary["ui_url"], "assay runs list --project churn", "assay incident list", "Step timings",
                     "Top 8 customers at risk", "A/B test", "ASSAY_STORE_URL="):  # fmt: skip
        assert fragment in text


def test_demo_uses_the_default_client(tmp_path: Path) -> None:
    console, _ = _console()
    summary = run_demo(rows=1_000, seed=3, console=console)
    default = assay.get_client()
    assert Path(summary["data_path"]).is_relative_to(default.settings.home)
    assert {v.version for v in default.registry.list_versions("churn")} == {1, 2}


@pytest.mark.slow
def test_rerun_reuses_the_team_adds_versions_and_falls_back_without_lightgbm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(store_url=f"sqlite:///{tmp_path / 'a.db'}", artifacts_url=str(tmp_path / "art"), home=tmp_path)
    try:
        console, _ = _console()
        first = run_demo(rows=1_000, seed=1, console=console, client=client)
        monkeypatch.setattr(scenario_module, "boosting_spec", functools.partial(boosting_spec, use_lightgbm=False))
        second = run_demo(rows=1_000, seed=1, console=console, client=client)
        assert [r["version"] for r in first["runs"]] == [1, 2]
        assert [r["version"] for r in second["runs"]] == [3, 4]
        hgb = second["runs"][1]
        assert hgb["name"] == "hist-gradient-boosting"
        assert hgb["model_class"].endswith("HistGradientBoostingClassifier")
        _, production, _ = client.registry.resolve("models:/churn@production")
        assert production is not None and production.version == second["chosen"]["version"] in (3, 4)
        assert first["team"] == second["team"]  # the second run reused the tokens of the first
        # on 750 training rows the AUC gate may fail: then the admin's override (with its reason) is recorded
        for s in (first, second):
            assert s["approval"]["gates_passed"] or "small sample" in s["approval"]["override"]
    finally:
        client.close()


@pytest.mark.parametrize("rows", [10, 499, 2.5, True])
def test_bad_rows_are_rejected_before_anything_is_written(rows: object, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="'rows' parameter of run_demo"):
        run_demo(rows=rows)  # type: ignore[arg-type]
    assert not (tmp_path / "home").exists()
