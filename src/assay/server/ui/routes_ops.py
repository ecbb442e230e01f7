"""Monitoring: monitors and incidents, and per monitor drift per feature over time (heat map), measured and
estimated performance over time, latency, rows, the alerts fired and the incidents with their states."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from assay.errors import InvalidInputError
from assay.monitoring import incidents as inc
from assay.monitoring.monitors import list_monitors, monitor_runs
from assay.server.auth import Actor
from assay.server.ui import charts
from assay.server.ui._web import PREFIX, SameOrigin, UiActor, back, page, router
from assay.server.ui.queries import alerts_of_runs
from assay.server.ui.routes_models import version_project
from assay.store import monitoring as mq

__all__ = ["routes"]

routes = router()
_FEATURE = re.compile(r"^drift\.(.+)\.statistic$")
_METRIC_ORDER = ("auc", "accuracy", "f1", "precision", "recall", "log_loss", "brier", "ece", "rmse", "mae", "r2")
_MAX_WINDOWS = 200


def _project(actor: Actor, model_name: str | None, model_version: int | None) -> str | None:
    if model_name is None or model_version is None:
        return None
    return version_project(actor, model_name, model_version)


@routes.get(PREFIX + "/monitoring", response_class=HTMLResponse)
def monitoring(request: Request, actor: UiActor) -> HTMLResponse:
    actor.require("viewer", None, action="read monitors")
    c = actor.client
    return page(request, "monitoring.html", actor, monitors=list_monitors(client=c),
                incidents=inc.list_incidents(client=c))  # fmt: skip


def _points(windows: list[str], runs: list[dict[str, Any]], figure: str) -> list[tuple[str, Any]]:
    return [(w, r["figures"].get(figure)) for w, r in zip(windows, runs, strict=True)]


def _perf_charts(windows: list[str], runs: list[dict[str, Any]]) -> list[str]:
    keys = {k.split(".", 1)[1] for r in runs for k in r["figures"] if k.startswith(("performance.", "estimate."))}
    ordered = [m for m in _METRIC_ORDER if m in keys]
    out = []
    for metric in ordered[:6]:
        series = {}
        for label, prefix in (("measured", "performance"), ("estimated (no labels)", "estimate")):
            points = _points(windows, runs, f"{prefix}.{metric}")
            if any(v is not None for _, v in points):
                series[label] = points
        out.append(charts.line_chart(metric, series, x_title="window start", height=280, categorical_x=True))
    return out


@routes.get(PREFIX + "/monitors/{name}", response_class=HTMLResponse)
def monitor(request: Request, name: str, actor: UiActor) -> HTMLResponse:
    c = actor.client
    with c.db.read() as conn:
        row = mq.get_monitor(conn, name)  # NotFoundError names the fix
    project = _project(actor, row["model_name"], row["model_version"])
    actor.require("viewer", project, action=f"read monitor {name!r}")
    runs = list(reversed(monitor_runs(name, limit=_MAX_WINDOWS, client=c)))
    windows = [r["window_start"].replace("T00:00:00Z", "").replace("Z", "") for r in runs]
    features = sorted({m.group(1) for r in runs for k in r["figures"] if (m := _FEATURE.match(k))})
    heat = None
    if features:
        z = [[r["figures"].get(f"drift.{f}.statistic") for r in runs] for f in features]
        heat = charts.heat_map("Drift statistic per feature and window", windows, features, z, colorbar="statistic")
    series_charts = _perf_charts(windows, runs)
    latency = sorted({k for r in runs for k in r["figures"] if k.startswith("latency.")})
    if latency:
        series = {k: _points(windows, runs, k) for k in latency}
        series_charts.append(charts.line_chart("latency", series, x_title="window start", categorical_x=True))
    if any("rows" in r["figures"] for r in runs):
        rows = {"rows": _points(windows, runs, "rows")}
        series_charts.append(charts.line_chart("rows per window", rows, height=240, categorical_x=True))
    with c.db.read() as conn:
        alerts = alerts_of_runs(conn, [r["run_id"] for r in runs])
    when = {r["run_id"]: w for r, w in zip(runs, windows, strict=True)}
    incidents = inc.list_incidents(monitor=name, client=c)
    return page(request, "monitor.html", actor, name=name, row=row, runs=list(reversed(runs)), heat=heat,
                charts=series_charts, alerts=alerts, when=when, incidents=incidents, features=features,
                can_act=actor.can("scientist", project), charts_on_page=True)  # fmt: skip


@routes.post(PREFIX + "/incidents/{incident_id}", dependencies=[SameOrigin])
def incident_action(
    incident_id: int, actor: UiActor, action: Annotated[str, Form()], note: Annotated[str, Form()] = ""
) -> Response:
    """Acknowledge, resolve (with an optional post-mortem note) or reopen an incident (scientist role)."""
    info = inc.get_incident(incident_id, client=actor.client)
    project = _project(actor, info.model_name, info.model_version)
    actor.require("scientist", project, action="change incidents")
    text = note.strip() or None
    if action == "acknowledge":
        inc.acknowledge(incident_id, owner=actor.user, actor=actor.user, client=actor.client)
    elif action == "resolve":
        inc.resolve(incident_id, postmortem=text, actor=actor.user, client=actor.client)
    elif action == "reopen":
        inc.reopen(incident_id, actor=actor.user, client=actor.client)
    else:
        raise InvalidInputError(f"action must be acknowledge, resolve or reopen; got {action!r}")
    target = f"{PREFIX}/monitors/{info.monitor}" if info.monitor else f"{PREFIX}/monitoring"
    return back(target + "#incidents")
