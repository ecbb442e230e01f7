"""Executive reports: the decision first, every figure with its uncertainty, as self-contained HTML and PDF.

Three reports, each read from what the store holds and returned as a :class:`Report`
(``.html``, ``.write_html(path)``, ``.to_pdf()``, ``.write_pdf(path)``, ``.summary()``, ``.to_dict()``):

* :func:`experiment_report` — one experiment: ship / don't ship / keep running / inconclusive, the effect in
  words with its interval, projected revenue with its interval and stated assumptions, risks, unknowns;
* :func:`model_report` — one model version (``"churn@production"``): healthy / needs attention / at risk,
  quality, measured business impact, fairness, drift and incidents, gates;
* :func:`portfolio_report` — projects and their KPIs, models in production, latest experiments, open incidents.

HTML embeds plotly.js from the installed package (opens offline); PDF is drawn with fpdf2 (no browser).

Example::

    from assay import reports
    r = reports.experiment_report("checkout-v2", baseline_revenue=12_000_000)
    print(r.summary())
    r.write_html("checkout.html"); r.write_pdf("checkout.pdf")
"""

from assay.reports.document import Bars, Bullets, Forest, ForestRow, KeyFigure, Paragraph, Report, Section, Table
from assay.reports.experiment import experiment_report
from assay.reports.impact import BusinessInputs, Impact, project_impact
from assay.reports.model import model_report
from assay.reports.portfolio import portfolio_report

__all__ = [
    "Bars",
    "Bullets",
    "BusinessInputs",
    "Forest",
    "ForestRow",
    "Impact",
    "KeyFigure",
    "Paragraph",
    "Report",
    "Section",
    "Table",
    "experiment_report",
    "model_report",
    "portfolio_report",
    "project_impact",
]
