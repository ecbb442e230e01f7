"""Stored monitors and their runs: ``assay monitor run NAME`` computes one window, idempotently.

A run covers one window ``[start, end)`` of the ``current`` data (rows placed by the ``timestamp``
column). By default that is the last complete window before now, aligned to the window length
(a ``1d`` monitor run at 03:00 covers yesterday 00:00–24:00 UTC). The window is claimed in the store
first, under a unique constraint, so cron or Airflow can call it as often as they like: a window that
already finished returns its stored result and fires nothing again; ``force=True`` recomputes it (its
alerts still fire at most once per window and rule).

Figures a rule can name (all numbers; booleans as 0/1):

==============================  =====================================================================
``rows``                        rows of current data in the window
``drift.share_drifted``         share of drifted columns; also ``drift.dataset_drifted``,
                                ``drift.columns_drifted`` and ``drift.<column>.statistic``/``.drifted``
``prediction_drift.statistic``  drift of the score column (``.drifted``, ``.p_value``); likewise
                                ``target_drift.*`` for the label column
``performance.<metric>``        realised metrics on labelled rows (``auc``, ``log_loss``, ``accuracy``,
                                ``precision``, ``recall``, ``f1``, ``mae``, ``rmse`` ...), plus
                                ``performance.n_labelled`` and ``performance.coverage``
``estimate.<metric>``           label-free estimates (CBPE): ``estimate.accuracy``, ``estimate.auc`` ...
``contract.failed_errors``      error-severity contract checks that failed; ``contract.failed_warnings``,
                                ``contract.passed``
==============================  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay._defaults import client_or_default as _client
from assay.errors import AssayError, InvalidInputError
from assay.monitoring import alerts as al
from assay.monitoring import checks as ck
from assay.monitoring.definition import MonitorSpec
from assay.results import ResultMixin
from assay.store import monitoring as mq

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["MonitorRunResult", "create_monitor", "get_monitor", "list_monitors", "monitor_runs", "run_monitor"]


def _ms_to_iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_ms(value: dt.datetime | str | int | float) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(f"not an ISO date/time: {value!r} (e.g. 2026-11-24 or 2026-11-24T06:00)") from exc
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(f"expected a datetime, ISO text or epoch ms; got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


@dataclass(frozen=True)
class MonitorRunResult(ResultMixin):
    """One window of one monitor: its figures, the alerts that fired, the incidents they opened."""

    monitor: str
    window_start: str
    window_end: str
    status: str  # ok | alerting | failed
    reused: bool  # True when the window had already run and its stored result is returned
    figures: dict[str, float]
    alerts: tuple[dict[str, Any], ...]
    incidents: tuple[int, ...]
    retrain: dict[str, Any] | None
    checks: dict[str, Any]
    error: str | None
    run_id: int

    def summary(self) -> str:
        head = f"Monitor {self.monitor!r}, window {self.window_start} to {self.window_end}"
        if self.status == "failed":
            return f"{head}: failed: {self.error}"
        again = " (already computed; stored result)" if self.reused else ""
        rows = self.figures.get("rows")
        body = f"{int(rows):,} rows" if isinstance(rows, int | float) and math.isfinite(rows) else "rows unknown"
        if not self.alerts:
            return f"{head}{again}: {body}; no rule fired."
        fired = "; ".join(f"{a['rule']} ({a['figure']} = {_fmt(a['value'])})" for a in self.alerts)
        opened = f" Incident(s) {', '.join(f'#{i}' for i in self.incidents)}." if self.incidents else ""
        return f"{head}{again}: {body}; {len(self.alerts)} alert(s): {fired}.{opened}"


def _fmt(value: Any) -> str:
    return "missing" if value is None else f"{value:.4g}"


def create_monitor(
    definition: MonitorSpec | dict[str, Any] | str | Path, *, client: Client | None = None
) -> MonitorSpec:
    """Validate and store a monitor (replacing one of the same name); returns the spec as stored.

    ``definition``: a :class:`MonitorSpec`, a dict, YAML text or a ``.yaml`` path. A ``model`` given
    as an alias (``models:/churn@production``) is pinned to the version it points at now.
    """
    spec = (
        definition
        if isinstance(definition, MonitorSpec)
        else (MonitorSpec.from_dict(definition) if isinstance(definition, dict) else MonitorSpec.from_yaml(definition))
    )
    c = _client(client)
    model_name = model_version = None
    if spec.model:
        uri = spec.model if spec.model.startswith(("models:/", "runs:/")) else f"models:/{spec.model}"
        _, version, _ = c.registry.resolve(uri)
        if version is not None:
            model_name, model_version = version.name, version.version
    stored = spec.to_dict()
    c.db.retrying_write(
        lambda conn: mq.save_monitor(
            conn,
            spec.name,
            stored,
            model_name=model_name,
            model_version=model_version,
            dataset_name=spec.dataset,
            enabled=spec.enabled,
        )
    )
    return spec


def get_monitor(name: str, *, client: Client | None = None) -> MonitorSpec:
    with _client(client).db.read() as conn:
        return MonitorSpec.from_dict(mq.get_monitor(conn, name)["definition"])


def list_monitors(*, client: Client | None = None) -> list[dict[str, Any]]:
    with _client(client).db.read() as conn:
        rows = mq.list_monitors(conn)
    for row in rows:
        definition = row.pop("definition")
        row["window"] = definition.get("window")
        row["checks"] = sorted(definition.get("checks") or {})
        end = row.pop("last_window_end_ms")
        row["last_window_end"] = _ms_to_iso(end) if end is not None else None
    return rows


def monitor_runs(name: str, *, limit: int = 20, client: Client | None = None) -> list[dict[str, Any]]:
    """The latest runs of a monitor, newest window first."""
    with _client(client).db.read() as conn:
        monitor_id = mq.get_monitor(conn, name)["id"]
        runs = mq.list_monitor_runs(conn, monitor_id, limit=limit)
    return [
        {
            "run_id": r["id"],
            "window_start": _ms_to_iso(r["window_start_ms"]),
            "window_end": _ms_to_iso(r["window_end_ms"]),
            "status": r["status"],
            "figures": r["figures"] or {},
            "error": r["error"],
        }
        for r in runs
    ]


def _window(spec: MonitorSpec, at: Any, start: Any, end: Any) -> tuple[int, int]:
    size = spec.window_ms
    if start is not None or end is not None:
        if start is None or end is None:
            raise InvalidInputError("give both window_start and window_end, or neither")
        return _to_ms(start), _to_ms(end)
    now = _to_ms(at) if at is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    end_ms = now // size * size
    return end_ms - size, end_ms


def run_monitor(
    name: str,
    *,
    at: dt.datetime | str | None = None,
    window_start: dt.datetime | str | None = None,
    window_end: dt.datetime | str | None = None,
    force: bool = False,
    notify: bool = True,
    progress: bool | None = None,
    client: Client | None = None,
) -> MonitorRunResult:
    """Run monitor ``name`` over one window (the last complete one before ``at``, default now).

    Idempotent per window (see the module docstring). A check that cannot run (missing file, bad
    column) marks the run ``failed`` with the reason, stored and returned, and re-raises nothing:
    a scheduler sees the status; ``assay monitor run`` exits non-zero.
    """
    c = _client(client)
    with c.db.read() as conn:
        row = mq.get_monitor(conn, name)
    spec = MonitorSpec.from_dict(row["definition"])
    start_ms, end_ms = _window(spec, at, window_start, window_end)
    run_id, stored = c.db.retrying_write(lambda conn: mq.claim_window(conn, row["id"], start_ms, end_ms, force=force))
    if stored is not None:
        with c.db.read() as conn:
            fired = mq.alerts_of_run(conn, run_id)
            incidents = [i["id"] for i in mq.list_incidents(conn, monitor_id=row["id"]) if i["last_run_id"] == run_id]
        return MonitorRunResult(
            monitor=name,
            window_start=_ms_to_iso(start_ms),
            window_end=_ms_to_iso(end_ms),
            status=stored["status"],
            reused=True,
            figures=stored["figures"] or {},
            alerts=tuple(_alert_view(a) for a in fired),
            incidents=tuple(incidents),
            retrain=(stored["result"] or {}).get("retrain"),
            checks=(stored["result"] or {}).get("checks", {}),
            error=stored["error"],
            run_id=run_id,
        )
    show = sys.stderr.isatty() if progress is None else progress
    try:
        figures, results = ck.run_checks(spec, start_ms, end_ms, client=c, progress=show)
    except (AssayError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        c.db.retrying_write(
            lambda conn: mq.finish_run(conn, run_id, status="failed", figures={}, result={}, error=error)
        )
        return MonitorRunResult(
            monitor=name,
            window_start=_ms_to_iso(start_ms),
            window_end=_ms_to_iso(end_ms),
            status="failed",
            reused=False,
            figures={},
            alerts=(),
            incidents=(),
            retrain=None,
            checks={},
            error=error,
            run_id=run_id,
        )
    return _fire(c, spec, row, run_id, start_ms, end_ms, figures, results, notify=notify)


def _fire(
    c: Client,
    spec: MonitorSpec,
    row: dict[str, Any],
    run_id: int,
    start_ms: int,
    end_ms: int,
    figures: dict[str, float],
    results: dict[str, Any],
    *,
    notify: bool,
) -> MonitorRunResult:
    window = f"{_ms_to_iso(start_ms)}/{_ms_to_iso(end_ms)}"
    fired = al.evaluate(spec.rules, figures)
    context = {"model": row["model_name"], "model_version": row["model_version"], "monitor_run": run_id}
    new_alerts: list[tuple[int, al.Fired]] = []
    incidents: list[int] = []

    def record(conn: Any) -> None:
        new_alerts.clear()
        incidents.clear()
        for f in fired:
            alert_id = mq.record_alert(
                conn,
                run_id,
                {
                    "rule": f.rule.name,
                    "figure": f.rule.figure,
                    "op": f.rule.op,
                    "value": f.value,
                    "threshold": f.rule.threshold,
                    "severity": f.rule.severity,
                },
            )
            if alert_id is not None:
                new_alerts.append((alert_id, f))
            if f.rule.incident:
                incident_id, _ = (
                    mq.open_or_extend_incident(
                        conn,
                        {
                            "title": _title(spec.name, f),
                            "severity": f.rule.severity,
                            "monitor_id": row["id"],
                            "rule": f.rule.name,
                            "model_name": row["model_name"],
                            "model_version": row["model_version"],
                        },
                        run_id=run_id,
                    )
                    if alert_id is not None
                    else (None, False)
                )
                if incident_id is not None:
                    incidents.append(incident_id)

    c.db.retrying_write(record)
    if notify:  # outside the transaction: a slow webhook never holds a write lock
        for alert_id, f in new_alerts:
            outcome = al.deliver(f, monitor=spec.name, window=window, context=context)
            c.db.retrying_write(lambda conn, a=alert_id, o=outcome: mq.set_alert_deliveries(conn, a, o))
    retrain = None
    to_retrain = [f for _, f in new_alerts if f.rule.retrain]
    if to_retrain and spec.retrain is not None:
        retrain = al.trigger_retrain(spec.retrain, to_retrain, monitor=spec.name, window=window, context=context)
    status = "alerting" if fired else "ok"
    payload = {"checks": results, "retrain": retrain}
    c.db.retrying_write(lambda conn: mq.finish_run(conn, run_id, status=status, figures=figures, result=payload))
    with c.db.read() as conn:
        stored_alerts = mq.alerts_of_run(conn, run_id)
    return MonitorRunResult(
        monitor=spec.name,
        window_start=_ms_to_iso(start_ms),
        window_end=_ms_to_iso(end_ms),
        status=status,
        reused=False,
        figures=figures,
        alerts=tuple(_alert_view(a) for a in stored_alerts),
        incidents=tuple(dict.fromkeys(incidents)),
        retrain=retrain,
        checks=results,
        error=None,
        run_id=run_id,
    )


def _title(monitor: str, f: al.Fired) -> str:
    value = "missing" if f.value is None else f"{f.value:.4g}"
    return f"{monitor}: {f.rule.figure} = {value} ({f.rule.op} {f.rule.threshold:g})"[:512]


def _alert_view(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("rule", "figure", "op", "value", "threshold", "severity", "deliveries")
    return {k: a.get(k) for k in keys} | {"fired_at": _ms_to_iso(a["fired_ms"])}
