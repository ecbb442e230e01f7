"""Rich views of the demo's later steps: gates and approval, reason codes, the monitor's weeks, the A/B readout,
the reports, the team and where to log in, and the step timings."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from assay.demo._experiment import ABTest
    from assay.demo._governance import Approval, Evidence
    from assay.demo._monitoring import Watch
    from assay.demo._reports import Written
    from assay.demo._team import Team
    from assay.governance import ReasonCodes

__all__ = ["experiment_view", "governance_table", "monitor_table", "reasons_view", "reports_view", "team_view",
           "timings_table"]  # fmt: skip


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)


def governance_table(approval: Approval, evidence: Mapping[int, Evidence]) -> Group:
    """The policy gates of the promoted version with their evidence, then who asked and who approved."""
    table = _table(f"Policy gates of churn v{approval.promotion.version} (checked by the reviewer)")
    table.add_column("gate", no_wrap=True)
    table.add_column("status")
    table.add_column("evidence")
    for g in approval.gates.gates:
        mark = "[green]pass[/]" if g.passed else f"[red]{g.status}[/]"
        table.add_row(g.gate, mark, Text(g.evidence[:160]))
    ev = evidence.get(approval.promotion.version)
    lines = Text()
    if ev is not None:
        lines.append(f"fairness: {ev.fairness.summary()[:300]}\n", style="dim")
    lines.append(
        f"request {approval.request_id}: {approval.requested_by} asked → {approval.decided_by} "
        f'{approval.decision.get("state")} ("{approval.decision.get("decision_comment") or ""}") → '
        f"{approval.promotion.summary()}"
    )
    return Group(table, lines, Text(""))


def reasons_view(reasons: ReasonCodes) -> Table:
    """Why the riskiest new customers are at risk, in words."""
    table = _table("Why the riskiest new customers may leave (reason codes)")
    table.add_column("customer", no_wrap=True)
    table.add_column("reasons")
    for index, row in zip(reasons.index, reasons.reasons, strict=True):
        table.add_row(str(index), "; ".join(r.phrase for r in row) or "-")
    return table


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def monitor_table(watch: Watch) -> Table:
    """One row per monitored week: rows, share of drifted columns, realised AUC, alerts and incidents."""
    table = _table("Monitor churn-prod, one window per week of production")
    for col in ("week", "from", "rows", "drifted", "score drift", "AUC", "status", "alerts → incidents"):
        table.add_column(col, justify="right" if col in ("rows", "drifted", "AUC") else "left")
    for i, w in enumerate(watch.weeks, start=1):
        f = w.figures
        alerts = ", ".join(a["rule"] for a in w.alerts)
        incidents = ", ".join(f"#{n}" for n in w.incidents)
        style = "red" if w.alerts else ("yellow" if w.status == "failed" else "green")
        table.add_row(
            str(i),
            w.window_start[:10],
            _num(f.get("rows"), ",.0f"),
            _num(f.get("drift.share_drifted"), ".0%"),
            "yes" if f.get("prediction_drift.drifted") else "no",
            _num(f.get("performance.auc"), ".3f"),
            f"[{style}]{w.status}[/]",
            f"{alerts} → {incidents}" if alerts else (w.error or "")[:60],
        )
    if watch.open_incidents:
        table.caption = "open: " + "; ".join(i.summary() for i in watch.open_incidents)
    return table


def experiment_view(ab: ABTest) -> Panel:
    """The A/B readout: the decision in words, each overall metric with its interval, what CUPED bought."""
    table = _table("")
    for col in ("metric", "lift", "95% CI", "p (adj.)", "outcome"):
        table.add_column(col, justify="left" if col in ("metric", "outcome") else "right")
    for m in ab.result.overall:
        table.add_row(
            f"{m.metric} ({m.role})",
            f"{m.estimate:+.1%}",
            f"{m.ci_low:+.1%} to {m.ci_high:+.1%}",
            _num(m.adjusted_p_value, ".4f"),
            m.outcome,
        )
    cover = "covers" if ab.covers_truth else "does NOT cover"
    note = Text(
        f"{ab.units:,} customers; CUPED (28 days before exposure) cut the primary metric's variance by "
        f"{ab.variance_reduction:.0%}. The true effect built into the company is {ab.true_lift:+.0%}: the "
        f"interval {cover} it.",
        style="dim",
    )
    return Panel(Group(Text(ab.readout.summary()), table, note), title="A/B test: new model vs old",
                 title_align="left", expand=False)  # fmt: skip


def reports_view(written: Sequence[Written]) -> Table:
    table = _table("Executive reports (self-contained HTML, open offline)")
    table.add_column("report")
    table.add_column("decision")
    table.add_column("file")
    for w in written:
        table.add_row(w.name, w.report.decision, str(w.path))
    return table


def team_view(team: Team, url: str, server: str = "assay server") -> Panel:
    """Who is who in the demo store, and where their tokens are: the store is multi-user now."""
    from assay.demo._team import MEMBERS

    body = Text()
    body.append(f"The web UI: {url}  (`{server}` serves it)\n", style="bold")
    body.append("This store now has users: writes need an API token. Log in to the UI with one of these:\n\n")
    for name, (role, project, does) in MEMBERS.items():
        where = "every project" if project == "*" else f"project {project}"
        body.append(f"{name:<11}", style="bold cyan")
        body.append(f" {role} in {where}: {does}\n")
        body.append(f"            token {team.tokens[name]}\n", style="dim")
    body.append(f"\nTokens are kept in {team.env_file} (and {team.file}); `set -a; . {team.env_file}; set +a` loads "
                "them as ASSAY_TOKEN_<NAME>.", style="dim")  # fmt: skip
    return Panel(body, title="Demo team", title_align="left", expand=False)


def timings_table(timings: Mapping[str, float]) -> Table:
    table = _table("Step timings")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in timings.items():
        table.add_row(name, f"{seconds:.1f}")
    return table
