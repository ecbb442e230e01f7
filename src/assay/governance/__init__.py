"""Governance: fairness audits, explanations and reason codes, model cards, the audit trail.

Example::

    from assay import governance
    rep = governance.fairness(y_true, y_pred, sensitive_features=df[["gender", "region"]])
    contrib = governance.explain(model, X)               # per row x feature; sums to the raw output
    codes = governance.reason_codes(model, X, k=4, phrases={"balance": "Balance is high ({value:,.0f})"})
    card = governance.model_card("models:/churn/3")       # card.missing, card.to_markdown(), card.to_html()
    governance.verify_audit()                             # the hash chain of every recorded event
    governance.alias_at("churn", "production", "2026-03-01")
"""

from assay.governance.card import CardDataset, CardField, CardMetric, ModelCard, card_fields, edit_card, model_card
from assay.governance.explain import (
    GlobalExplanation,
    LocalExplanation,
    PartialDependence,
    VersionExplanation,
    explain,
    explain_version,
    importance,
    load_explanation,
)
from assay.governance.fairness import Disparity, FairnessReport, GroupMetrics, fairness
from assay.governance.history import alias_at, alias_history, audit_log, verify_audit
from assay.governance.mitigation import MitigatedModel, MitigatedVersion, mitigate, register_mitigated
from assay.governance.policy import GateReport, GateResult, Policy, check, load_policy, save_policy
from assay.governance.reasons import Reason, ReasonCodes, reason_codes

__all__ = [
    "CardDataset",
    "CardField",
    "CardMetric",
    "Disparity",
    "FairnessReport",
    "GateReport",
    "GateResult",
    "GlobalExplanation",
    "GroupMetrics",
    "LocalExplanation",
    "MitigatedModel",
    "MitigatedVersion",
    "ModelCard",
    "PartialDependence",
    "Policy",
    "Reason",
    "ReasonCodes",
    "VersionExplanation",
    "alias_at",
    "alias_history",
    "audit_log",
    "card_fields",
    "check",
    "edit_card",
    "explain",
    "explain_version",
    "fairness",
    "importance",
    "load_explanation",
    "load_policy",
    "mitigate",
    "model_card",
    "reason_codes",
    "register_mitigated",
    "save_policy",
    "verify_audit",
]
