"""The demo's governance step: a policy, the evidence it asks for (fairness audit, explanations, a completed
model card), the gates, and a promotion to ``production`` that a reviewer other than the author approves.

All of it goes through :mod:`assay.governance`; the demo only decides what to write in the card and which
groups to audit.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.governance import (
    FairnessReport,
    GateReport,
    ReasonCodes,
    approvals,
    check,
    edit_card,
    explain_version,
    fairness,
    model_card,
    reason_codes,
    save_policy,
)
from assay.governance.card import FAIRNESS_ARTIFACT

if TYPE_CHECKING:
    from assay.demo._team import Team
    from assay.demo._train import DemoData, TrainedModel
    from assay.governance.approvals import Promotion
    from assay.tracking.client import Client

__all__ = [
    "POLICY",
    "Approval",
    "Evidence",
    "approve_and_promote",
    "gather_evidence",
    "save_demo_policy",
    "why_at_risk",
]  # fmt: skip

POLICY: dict[str, Any] = {
    "project": "churn",
    "description": "Churn model policy of the demo company, agreed with the retention team and risk.",
    "protected_aliases": ["production"],
    "gates": [
        {"metric": {"name": "auc", "min": 0.75}},
        {"fairness": {"max_demographic_parity_difference": 0.15}},
        {"contract": {"dataset": "customers_train"}},
        {"card_complete": True},
        {"explanations": True},
    ],
}

_CARD = {
    "intended_use": "Rank subscribers by their risk of cancelling in the next 30 days, so the retention team "
    "can choose who receives an offer. Not for pricing, credit or any decision about an individual's access.",
    "factors": "Plan, contract, tenure, usage (logins, idle days), support tickets, failed payments, survey score, "
    "region and channel. Audited across gender and age band, which are not model inputs.",
    "ethical_considerations": "Offers are a benefit: a model that misses a group denies it offers. Fairness is "
    "audited by gender and age band before each promotion; age enters the model, so age bands are watched.",
    "caveats_and_recommendations": "Trained on one snapshot (2025-06-30). Newly acquired segments (e.g. partner "
    "campaigns) drift from it: watch the churn-prod monitor and retrain when it alerts.",
    "quantitative_analyses": "Test-set AUC with DeLong 95% interval, calibration by decile, fairness by group "
    "with bootstrap intervals, permutation importance and partial dependence.",
    "evaluation_data": "A stratified 25% holdout of the snapshot (customers_test), never used for fitting.",
}


@dataclass(frozen=True)
class Evidence:
    """What one version was judged on: its fairness audit, explanation summary and card status."""

    version: int
    fairness: FairnessReport
    top_features: tuple[str, ...]
    card_missing: tuple[str, ...]


@dataclass(frozen=True)
class Approval:
    """The promotion request, the reviewer's decision and the promotion it allowed."""

    request_id: int
    requested_by: str
    decided_by: str
    decision: dict[str, Any]
    gates: GateReport
    promotion: Promotion


def save_demo_policy(admin: Client) -> Any:
    """Store :data:`POLICY` as project ``churn``'s policy in force (admin role)."""
    return save_policy(POLICY, client=admin)


def gather_evidence(
    scientist: Client, trained: TrainedModel, data: DemoData, groups: pd.DataFrame, *, seed: int
) -> Evidence:
    """Fairness audit on the test set (stored as ``governance/fairness.json`` on the run), permutation importance
    with partial dependence (:func:`explain_version`), and the person-written parts of the model card."""
    uri = trained.version.uri
    y = data.y_test.to_numpy()
    sensitive = groups.loc[data.X_test.index, ["gender", "age_band"]].astype(str).reset_index(drop=True)
    report = fairness(y, y_score=trained.test_scores, sensitive_features=sensitive, n_bootstrap=100,
                      random_state=seed, intersectional=False)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="assay-demo-") as tmp:
        path = Path(tmp) / "fairness.json"
        path.write_text(json.dumps(report.to_dict()), encoding="utf-8")
        scientist.log_artifact(trained.run_id, path, FAIRNESS_ARTIFACT)
    rows = min(len(data.X_test), 2_000)
    explanation = explain_version(
        scientist, uri, data.X_test.iloc[:rows], data.y_test.iloc[:rows], n_repeats=3, random_state=seed
    )
    edit_card(uri, _CARD, client=scientist)
    card = model_card(uri, client=scientist)
    return Evidence(trained.version.version, report, _top(explanation), tuple(card.missing))


def _top(explanation: Any, k: int = 3) -> tuple[str, ...]:
    imp = explanation.importance
    order = sorted(range(len(imp.features)), key=lambda i: -imp.importances[i])
    return tuple(imp.features[i] for i in order[:k])


def approve_and_promote(
    team: Team, model: str, version: int, *, scientist: str, reviewer: str, admin: str = "demo-admin"
) -> Approval:
    """The scientist asks, the reviewer (never the author) approves after reading the gates, the scientist
    promotes: the alias moves only because the gates pass and the approval exists. When a gate fails (a demo
    on too few customers), the admin overrides with a recorded reason instead."""
    sci, rev = team[scientist], team[reviewer]
    rid = approvals.request_promotion(
        model,
        version,
        comment="beats the linear model on test AUC; card, fairness and explanations attached",
        client=sci,
    )
    gates = check(f"models:/{model}/{version}", client=rev)
    verdict = "all policy gates pass" if gates.passed else "gates fail"
    decision = approvals.approve(rid, comment=f"read the card and the fairness audit; {verdict}", client=rev)
    if gates.passed:
        promotion = approvals.promote(model, version, alias="production", client=sci)
    else:  # e.g. a sample too small for the AUC gate: only an admin may override, and the reason is recorded
        failed = ", ".join(g.gate for g in gates.gates if not g.passed)
        reason = f"demo walkthrough on a small sample: {failed} not met; promoted to show the rest of the loop"
        promotion = approvals.promote(model, version, alias="production", override=reason, client=team[admin])
    return Approval(rid, scientist, reviewer, decision, gates, promotion)


def why_at_risk(predictor: Any, X: pd.DataFrame, k: int = 3) -> ReasonCodes:
    """Reason codes for a few customers: the features pushing each towards churn, in words."""
    return reason_codes(predictor.model, X, k=k, favourable="low")
