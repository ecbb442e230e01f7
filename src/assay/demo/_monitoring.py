"""The demo's monitoring step: a stored monitor on the production model's scored traffic, run once per week
of production (explicit windows, so the demo does not depend on today's date). Drift is measured against the
scored test set; delayed churn labels give realised performance; a drift rule opens an incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.demo._serving import SCORE_COLUMN
from assay.demo.activity import PRODUCTION_START, WEEKS
from assay.demo.company import FEATURES, LABEL
from assay.monitoring import create_monitor, incidents, run_monitor

if TYPE_CHECKING:
    from assay.monitoring import MonitorRunResult
    from assay.tracking.client import Client

__all__ = ["DRIFT_THRESHOLD", "MONITOR", "Watch", "watch_production"]

MONITOR = "churn-prod"
#: The drift rule fires when at least this share of the watched columns drifted in a week.
DRIFT_THRESHOLD = 0.3
_WATCHED = ("age", "tenure_months", "channel", "discount_pct", "monthly_spend", "plan", "region", "logins_30d")


@dataclass(frozen=True)
class Watch:
    """One monitor result per week, and the incidents open afterwards."""

    weeks: tuple[MonitorRunResult, ...]
    open_incidents: tuple[Any, ...]

    @property
    def first_alert_week(self) -> int | None:
        return next((i for i, w in enumerate(self.weeks) if w.alerts), None)


def definition(uri: str, scored: Path, reference: Path, labels: Path) -> dict[str, Any]:
    """The monitor: weekly windows over ``scored`` (placed by ``scored_at``), drift of the watched features and of
    the score against ``reference``, realised AUC from the delayed ``labels``."""
    assert set(_WATCHED) <= set(FEATURES)
    return {
        "name": MONITOR,
        "model": uri,
        "dataset": "customers",
        "current": str(scored),
        "timestamp": "scored_at",
        "window": "7d",
        "reference": str(reference),
        "checks": {
            "drift": {"columns": list(_WATCHED), "correction": "holm"},
            "prediction_drift": {"column": SCORE_COLUMN},
            "performance": {"labels": str(labels), "id": "customer_id", "score": SCORE_COLUMN, "label": LABEL},
        },
        "rules": [
            {"name": "feature_drift", "figure": "drift.share_drifted", "op": ">=", "threshold": DRIFT_THRESHOLD,
             "severity": "error"},
            {"name": "auc_drop", "figure": "performance.auc", "op": "<", "threshold": 0.7, "severity": "critical"},
        ],
    }  # fmt: skip


def watch_production(client: Client, uri: str, scored: Path, reference: Path, labels: Path) -> Watch:
    """Store the monitor and run it over each production week, oldest first."""
    create_monitor(definition(uri, scored, reference, labels), client=client)
    results = []
    for week in range(WEEKS):
        start = PRODUCTION_START + pd.Timedelta(weeks=week)
        end = start + pd.Timedelta(weeks=1)
        results.append(
            run_monitor(
                MONITOR,
                window_start=start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                window_end=end.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                force=True,
                notify=False,
                progress=False,
                client=client,
            )
        )
    still_open = tuple(incidents.list_incidents(state="open", monitor=MONITOR, client=client))
    return Watch(tuple(results), still_open)
