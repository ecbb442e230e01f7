"""The checks of one monitor window, run on one engine, turned into flat figures for the alert rules."""

from __future__ import annotations

import datetime as dt
import math
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from assay.data.sources import is_query_or_table, looks_like_files
from assay.engine import Engine, connect, quote_identifier
from assay.errors import InvalidInputError
from assay.monitoring.definition import MonitorSpec

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["run_checks"]


def _literal_ts(ms: int) -> str:
    text = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"CAST('{text}' AS TIMESTAMP)"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _register(eng: Engine, name: str, source: str) -> str:
    """Register a path on the engine as ``name``; a table name or SELECT is used as it is."""
    if not looks_like_files(source) and is_query_or_table(source):
        return source
    eng.register(name, source)
    return name


def _reference(spec: MonitorSpec, eng: Engine, client: Client) -> Any:
    ref = spec.reference
    if isinstance(ref, dict):
        from assay.data.records import load_profile

        return load_profile(ref["dataset"], fingerprint=ref.get("fingerprint"), client=client)
    if ref is None:
        return None
    relation = _register(eng, "monitor_reference", str(ref))
    return relation if relation.lstrip().lower().startswith(("select", "with")) else f"select * from {relation}"


def run_checks(
    spec: MonitorSpec, start_ms: int, end_ms: int, *, client: Client, progress: bool = False
) -> tuple[dict[str, float], dict[str, Any]]:
    """Run every check of ``spec`` on the window ``[start_ms, end_ms)``; ``(figures, results as dicts)``."""
    figures: dict[str, float] = {}
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        eng = stack.enter_context(connect(spec.engine))
        current_rel = _register(eng, "monitor_current", spec.current)
        base = current_rel if current_rel.lstrip().lower().startswith(("select", "with")) else None
        body = f"({base}) AS c" if base else current_rel
        if spec.timestamp:
            cols = eng.columns(base or current_rel)
            if spec.timestamp not in cols:
                raise InvalidInputError(
                    f"monitor {spec.name!r}: timestamp column {spec.timestamp!r} is not in the current data; "
                    f"columns: {', '.join(cols)}"
                )
            ts = quote_identifier(spec.timestamp)
            window_sql = f"select * from {body} where {ts} >= {_literal_ts(start_ms)} and {ts} < {_literal_ts(end_ms)}"
        else:
            window_sql = f"select * from {body}"
        rows = int(eng.scalar(f"select count(*) as n from ({window_sql}) as w") or 0)
        figures["rows"] = float(rows)
        results["rows"] = rows
        steps = list(spec.checks)
        bar = _Bar(progress, len(steps), spec.name)
        for name in steps:
            raw = spec.checks[name]
            options = raw if isinstance(raw, dict) or name == "contract" else {}
            if rows == 0 and name != "contract":
                results[name] = {"status": "skipped", "reason": "no rows in the window"}
            else:
                results[name] = _CHECKS[name](spec, eng, window_sql, options, client, figures)
            bar.advance(name)
        bar.close()
    return figures, results


class _Bar:
    """A Rich progress bar over a monitor's checks (transient; nothing when disabled)."""

    def __init__(self, enabled: bool, total: int, name: str) -> None:
        self._progress = None
        if enabled and total:
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._progress.start()
            self._task = self._progress.add_task(f"monitor {name}", total=total)

    def advance(self, step: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=f"{step} done")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _drift(
    spec: MonitorSpec,
    eng: Engine,
    window_sql: str,
    options: dict[str, Any],
    client: Client,
    figures: dict[str, float],
    *,
    prefix: str = "drift",
    column: str | None = None,
) -> dict[str, Any]:
    from assay.monitoring.drift import drift

    reference = _reference(spec, eng, client)
    kwargs = {
        k: v for k, v in options.items() if k in ("method", "threshold", "correction", "drift_share", "categorical")
    }
    columns = [column] if column else options.get("columns")
    if columns is None and spec.timestamp:
        columns = [c for c in eng.columns(window_sql) if c != spec.timestamp]
    report = drift(reference, window_sql, columns=columns, engine=eng, **kwargs)
    if column:
        col = report.columns[0]
        for key in ("statistic", "p_value"):
            if (v := _number(getattr(col, key))) is not None:
                figures[f"{prefix}.{key}"] = v
        figures[f"{prefix}.drifted"] = float(bool(col.drifted))
    else:
        figures[f"{prefix}.share_drifted"] = float(report.share_drifted)
        figures[f"{prefix}.dataset_drifted"] = float(bool(report.dataset_drifted))
        figures[f"{prefix}.columns_drifted"] = float(sum(bool(c.drifted) for c in report.columns))
        for col in report.columns:
            if (v := _number(col.statistic)) is not None:
                figures[f"{prefix}.{col.column}.statistic"] = v
            figures[f"{prefix}.{col.column}.drifted"] = float(bool(col.drifted))
    return report.to_dict() | {"summary": report.summary()}


def _prediction_drift(
    spec: MonitorSpec, eng: Engine, window_sql: str, options: dict[str, Any], client: Client, figures: dict[str, float]
) -> dict[str, Any]:
    column = options.get("column", "score")
    rest = {k: v for k, v in options.items() if k != "column"}
    return _drift(spec, eng, window_sql, rest, client, figures, prefix="prediction_drift", column=column)


def _target_drift(
    spec: MonitorSpec, eng: Engine, window_sql: str, options: dict[str, Any], client: Client, figures: dict[str, float]
) -> dict[str, Any]:
    column = options.get("column", "label")
    rest = {k: v for k, v in options.items() if k != "column"}
    return _drift(spec, eng, window_sql, rest, client, figures, prefix="target_drift", column=column)


def _metric_figures(prefix: str, metrics: dict[str, Any], figures: dict[str, float]) -> None:
    for key, metric in metrics.items():
        value = getattr(metric, "value", metric)
        if (v := _number(value)) is not None:
            figures[f"{prefix}.{key}"] = v


def _performance(
    spec: MonitorSpec, eng: Engine, window_sql: str, options: dict[str, Any], client: Client, figures: dict[str, float]
) -> dict[str, Any]:
    from assay.monitoring.performance import performance

    labels = options.get("labels")
    label_rel = _register(eng, "monitor_labels", str(labels)) if labels else None
    mapping = {
        "id": "id_column",
        "score": "score_column",
        "label": "label_column",
        "task": "task",
        "threshold": "threshold",
        "alpha": "alpha",
    }
    kwargs = {mapping[k]: v for k, v in options.items() if k in mapping}
    if spec.timestamp:
        kwargs.setdefault("timestamp_column", spec.timestamp)
    report = performance(window_sql, label_rel, window=None, engine=eng, **kwargs)
    overall = report.overall
    _metric_figures("performance", overall.metrics, figures)
    figures["performance.n_labelled"] = float(overall.n_labelled)
    if (v := _number(overall.coverage)) is not None:
        figures["performance.coverage"] = v
    return report.to_dict() | {"summary": report.summary()}


def _estimate(
    spec: MonitorSpec, eng: Engine, window_sql: str, options: dict[str, Any], client: Client, figures: dict[str, float]
) -> dict[str, Any]:
    from assay.monitoring.estimate import estimate_performance

    mapping = {"score": "score_column", "threshold": "threshold", "calibrate": "calibrate"}
    kwargs = {mapping[k]: v for k, v in options.items() if k in mapping}
    reference = options.get("reference")
    if reference is not None:
        kwargs["reference"] = _register(eng, "monitor_estimate_reference", str(reference))
        if not str(kwargs["reference"]).lower().startswith(("select", "with")):
            kwargs["reference"] = f"select * from {kwargs['reference']}"
    report = estimate_performance(window_sql, engine=eng, **kwargs)
    overall = getattr(report, "overall", report)
    _metric_figures("estimate", getattr(overall, "metrics", {}), figures)
    return report.to_dict() | {"summary": report.summary()}


def _contract(
    spec: MonitorSpec, eng: Engine, window_sql: str, options: Any, client: Client, figures: dict[str, float]
) -> dict[str, Any]:
    from assay.data.contract import Contract

    path = options.get("path") if isinstance(options, dict) else options
    if not path:
        raise InvalidInputError(f"monitor {spec.name!r}: the contract check needs the contract file: contract: FILE")
    contract = Contract.from_yaml(str(path))
    result = contract.validate(window_sql, engine=eng)
    failed = [c for c in result.checks if not c.passed]
    figures["contract.failed_errors"] = float(sum(c.severity == "error" for c in failed))
    figures["contract.failed_warnings"] = float(sum(c.severity == "warn" for c in failed))
    figures["contract.passed"] = float(bool(result.passed))
    return result.to_dict() | {"summary": result.summary()}


_CHECKS = {
    "drift": _drift,
    "prediction_drift": _prediction_drift,
    "target_drift": _target_drift,
    "performance": _performance,
    "estimate": _estimate,
    "contract": _contract,
}
