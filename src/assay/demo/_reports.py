"""The demo's executive reports, written as self-contained HTML into ``<home>/demo/reports/``.

The yearly revenue baseline is stated from the generated company itself (its customers' yearly order revenue),
so the projected impact is in the company's own money.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assay.reports import Report, experiment_report, model_report, portfolio_report

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["Written", "write_reports"]


@dataclass(frozen=True)
class Written:
    """One report and the file it was written to."""

    name: str
    path: Path
    report: Report


def write_reports(
    client: Client, folder: Path, *, experiment: str, model: str, baseline_revenue: float
) -> tuple[Written, ...]:
    """The experiment readout, the production model's report and the portfolio, as HTML files in ``folder``."""
    made = (
        ("experiment", experiment_report(experiment, client, baseline_revenue=baseline_revenue)),
        ("model", model_report(f"{model}@production", client, baseline_revenue=baseline_revenue)),
        ("portfolio", portfolio_report(client)),
    )
    return tuple(Written(name, report.write_html(folder / f"{name}.html"), report) for name, report in made)
