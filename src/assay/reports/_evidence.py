"""What the store says about a model version's health, in sentences with a tone: fairness, drift, incidents.

Shared by the three reports. Nothing here raises for missing evidence: what was never recorded becomes an
"unknown" sentence, because an executive must see what nobody measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.monitoring import incidents as inc
from assay.monitoring.monitors import list_monitors, monitor_runs
from assay.reports.words import finite

if TYPE_CHECKING:
    from assay.governance.card import ModelCard
    from assay.monitoring.incidents import IncidentInfo
    from assay.tracking.client import Client

__all__ = ["Finding", "ModelEvidence", "fairness_finding", "model_evidence", "open_incidents"]

_DRIFT_FIGURE = "drift.share_drifted"


@dataclass(frozen=True)
class Finding:
    """A sentence and its tone (``good``, ``bad``, ``warn``, ``neutral``)."""

    text: str
    tone: str = "neutral"


@dataclass
class ModelEvidence:
    """Fairness, monitoring and incident findings for one version, plus what is unknown about it."""

    name: str
    version: int
    card: ModelCard | None
    risks: list[Finding] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)
    incidents: list[IncidentInfo] = field(default_factory=list)
    monitors: list[dict[str, Any]] = field(default_factory=list)
    drift_share: float | None = None


def open_incidents(client: Client, name: str | None = None, version: int | None = None) -> list[IncidentInfo]:
    """Open and acknowledged incidents, newest first (of one model / version when given)."""
    found = [i for state in ("open", "acknowledged") for i in inc.list_incidents(state=state, limit=500, client=client)]
    if name is not None:
        found = [i for i in found if i.model_name == name and (version is None or i.model_version == version)]
    return sorted(found, key=lambda i: i.id, reverse=True)


def fairness_finding(report: dict[str, Any] | None, status: str, who: str) -> Finding | None:
    """The fairness headline of a stored ``FairnessReport.to_dict()`` as a sentence (``None``: not recorded)."""
    if status != "ok" or not report:
        return None
    feature = report.get("feature", "the sensitive feature")
    dpd = finite(report.get("demographic_parity_difference"))
    ratio = finite(report.get("demographic_parity_ratio"))
    ci = report.get("demographic_parity_difference_ci") or [None, None]
    passed = report.get("four_fifths_passed")
    if dpd is None:
        return Finding(f"Fairness of {who} across {feature} could not be judged ({report.get('status')}).", "warn")
    lo, hi = (finite(v) for v in ci)
    band = f" (95% interval {lo:.1%} to {hi:.1%})" if lo is not None and hi is not None else ""
    verdict = {True: "passes", False: "fails", None: "cannot be checked against"}[passed]
    text = (
        f"Fairness of {who} across {feature}: selection rates differ by up to {dpd:.1%} between groups{band}; "
        f"ratio {ratio:.2f}, which {verdict} the four-fifths rule."
        if ratio is not None
        else f"Fairness of {who} across {feature}: selection rates differ by up to {dpd:.1%}{band}."
    )
    return Finding(text, "good" if passed else ("bad" if passed is False else "warn"))


def model_evidence(client: Client, name: str, version: int, *, card: ModelCard | None = None) -> ModelEvidence:
    """Gather fairness (from the card), monitors and their latest drift, and open incidents of ``name`` v``version``."""
    from assay.governance.card import model_card

    if card is None:
        card = model_card((name, version), client=client)
    who = f"{name} v{version}"
    ev = ModelEvidence(name, version, card)
    fair = fairness_finding(card.fairness, card.fairness_status, who)
    if fair is None:
        ev.unknowns.append(f"No fairness audit is stored for {who}: how it treats different groups is unknown.")
    else:
        ev.risks.append(fair)
    ev.monitors = [m for m in list_monitors(client=client) if m["model_name"] == name and m["model_version"] == version]
    if not ev.monitors:
        ev.unknowns.append(f"No monitor watches {who}: drift and live performance are not measured.")
    for m in ev.monitors:
        runs = [r for r in monitor_runs(m["name"], limit=30, client=client) if r["status"] in ("ok", "alerting")]
        if not runs:
            ev.unknowns.append(f"Monitor {m['name']} has not completed a run yet.")
            continue
        latest = runs[0]
        share = finite(latest["figures"].get(_DRIFT_FIGURE))
        window = f"window ending {latest['window_end'][:10]}"
        if share is not None:
            ev.drift_share = share if ev.drift_share is None else max(ev.drift_share, share)
            drifted = latest["figures"].get("drift.dataset_drifted") == 1.0
            tone = "bad" if drifted else ("warn" if share > 0 else "good")
            ev.risks.append(
                Finding(
                    f"Input drift ({m['name']}, {window}): {share:.0%} of monitored features "
                    f"drifted{' - the data set counts as drifted' if drifted else ''}.",
                    tone,
                )
            )
        auc = finite(latest["figures"].get("performance.auc"))
        if auc is not None:
            ev.risks.append(
                Finding(
                    f"Live AUC ({m['name']}, {window}): {auc:.3f} on "
                    f"{int(latest['figures'].get('performance.n_labelled', 0)):,} labelled rows.",
                    "neutral",
                )
            )
        if latest["status"] == "alerting":
            ev.risks.append(Finding(f"Monitor {m['name']} is alerting on its latest window ({window}).", "bad"))
    ev.incidents = open_incidents(client, name, version)
    for i in ev.incidents:
        tone = "bad" if i.severity in ("critical", "error") else "warn"
        ev.risks.append(
            Finding(
                f"Open incident #{i.id} ({i.severity}, {i.state}) since {i.opened_at or '?'}: "
                f"{i.title} [{i.alert_count} alert(s)].",
                tone,
            )
        )
    return ev
