"""Monitors end to end: stored definition, per-window runs on real Parquet logs, rules, webhook, incidents,
retraining trigger, idempotent re-runs, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assay.cli.main import app
from assay.errors import InvalidInputError, NotFoundError
from assay.monitoring import incidents
from assay.monitoring.definition import MonitorSpec, parse_duration
from assay.monitoring.monitors import create_monitor, list_monitors, monitor_runs, run_monitor
from assay.tracking.client import Client

DAY0 = dt.datetime(2026, 11, 1)


def _logs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three days of predictions (day 3: income shifted, model worse) plus labels and a reference sample."""
    rng = np.random.default_rng(5)
    frames = []
    for day in range(3):
        n = 4000
        income = rng.normal(50 + (25 if day == 2 else 0), 10, n)
        plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
        score = rng.uniform(0.02, 0.98, n)
        label = (rng.uniform(size=n) < (score if day < 2 else 0.5)).astype(int)  # day 3: scores stop meaning much
        ts = [DAY0 + dt.timedelta(days=day, seconds=int(s)) for s in rng.uniform(0, 86_399, n)]
        frames.append(pd.DataFrame({"id": np.arange(n) + day * n, "ts": ts, "income": income, "plan": plan,
                                    "score": score, "label": label}))  # fmt: skip
    logs = pd.concat(frames, ignore_index=True)
    pred_path, label_path, ref_path = (
        tmp_path / "predictions.parquet",
        tmp_path / "labels.parquet",
        tmp_path / "ref.parquet",
    )
    logs.drop(columns=["label"]).to_parquet(pred_path)
    logs[["id", "label"]].to_parquet(label_path)
    ref = frames[0].sample(3000, random_state=1).drop(columns=["ts", "id"])
    ref.to_parquet(ref_path)
    return pred_path, label_path, ref_path


def _definition(tmp_path: Path, **extra: object) -> dict:
    pred, labels, ref = _logs(tmp_path)
    marker = tmp_path / "retrained.txt"
    return {
        "name": "churn-prod",
        "current": str(pred),
        "timestamp": "ts",
        "window": "1d",
        "reference": str(ref),
        "checks": {
            "drift": {"columns": ["income", "plan"]},
            "prediction_drift": {"column": "score"},
            "performance": {"labels": str(labels), "id": "id", "score": "score", "label": "label"},
        },
        "rules": [
            {"name": "drift", "figure": "drift.share_drifted", "op": ">=", "threshold": 0.5, "retrain": True},
            {"name": "auc_drop", "figure": "performance.auc", "op": "<", "threshold": 0.7, "severity": "critical"},
            {"name": "no_data", "figure": "rows", "op": "<", "threshold": 1},
        ],
        "retrain": {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"]},
        **extra,
    }


def test_windows_run_once_and_alert_on_the_shifted_day(client: Client, tmp_path: Path) -> None:
    create_monitor(_definition(tmp_path), client=client)
    day1 = run_monitor("churn-prod", at="2026-11-02T03:00:00", client=client)
    assert (
        day1.status == "ok"
        and day1.window_start == "2026-11-01T00:00:00Z"
        and day1.window_end == "2026-11-02T00:00:00Z"
    )
    assert day1.figures["rows"] == 4000 and day1.figures["drift.share_drifted"] < 0.5
    assert day1.figures["performance.auc"] > 0.75 and "no rule fired" in day1.summary()

    day3 = run_monitor("churn-prod", at="2026-11-04T00:00:00", client=client)
    assert day3.status == "alerting"
    assert {a["rule"] for a in day3.alerts} == {"drift", "auc_drop"}
    assert day3.figures["drift.income.drifted"] == 1.0 and day3.figures["drift.plan.drifted"] == 0.0
    assert day3.retrain is not None and day3.retrain["command"]["ok"]
    assert (tmp_path / "retrained.txt").read_text() == "x"
    assert len(day3.incidents) == 2

    again = run_monitor("churn-prod", at="2026-11-04T12:00:00", client=client)
    assert again.reused and again.status == "alerting" and again.run_id == day3.run_id
    assert {a["rule"] for a in again.alerts} == {"drift", "auc_drop"}
    assert (tmp_path / "retrained.txt").read_text() == "x"  # nothing fired twice
    forced = run_monitor("churn-prod", at="2026-11-04T12:00:00", force=True, client=client)
    assert not forced.reused and len(forced.alerts) == 2 and forced.retrain is None
    open_ = incidents.list_incidents(state="open", client=client)
    assert sorted(i.rule for i in open_) == ["auc_drop", "drift"] and all(i.alert_count == 1 for i in open_)

    empty = run_monitor("churn-prod", window_start="2026-11-10", window_end="2026-11-11", client=client)
    assert empty.figures["rows"] == 0 and [a["rule"] for a in empty.alerts] == ["no_data"]
    assert empty.checks["drift"]["status"] == "skipped"

    runs = monitor_runs("churn-prod", client=client)
    assert [r["window_start"][:10] for r in runs] == ["2026-11-10", "2026-11-03", "2026-11-01"]
    (listed,) = list_monitors(client=client)
    assert listed["last_window_end"] == "2026-11-11T00:00:00Z" and listed["checks"] == sorted(
        ["drift", "prediction_drift", "performance"]
    )


def test_a_failing_check_is_stored_as_a_failed_window(client: Client, tmp_path: Path) -> None:
    definition = _definition(tmp_path)
    definition["checks"] = {"drift": {"columns": ["no_such_column"]}}
    create_monitor(definition, client=client)
    result = run_monitor("churn-prod", at="2026-11-02T03:00:00", client=client)
    assert result.status == "failed" and "no_such_column" in (result.error or "")
    assert monitor_runs("churn-prod", client=client)[0]["status"] == "failed"
    definition["checks"] = {"drift": {"columns": ["income"]}}
    create_monitor(definition, client=client)  # fixed: the failed window is computed again
    assert run_monitor("churn-prod", at="2026-11-02T03:00:00", client=client).status == "ok"


def test_definitions_are_checked(tmp_path: Path) -> None:
    assert parse_duration("1d") == 86_400_000 and parse_duration("30m") == 1_800_000
    with pytest.raises(InvalidInputError, match="duration"):
        parse_duration("daily")
    with pytest.raises(InvalidInputError, match="unknown monitor key"):
        MonitorSpec.from_dict({"name": "m", "current": "x", "schedule": "1d"})
    with pytest.raises(InvalidInputError, match="unknown check"):
        MonitorSpec.from_dict({"name": "m", "current": "x", "checks": {"drfit": {}}})
    with pytest.raises(InvalidInputError, match="compare against a reference"):
        MonitorSpec.from_dict({"name": "m", "current": "x", "checks": {"drift": {}}})
    with pytest.raises(InvalidInputError, match="no 'retrain'"):
        MonitorSpec.from_dict(
            {
                "name": "m",
                "current": "x",
                "rules": [{"name": "r", "figure": "rows", "op": "<", "threshold": 1, "retrain": True}],
            }
        )
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        MonitorSpec.from_yaml("name: [oops\n")
    spec = MonitorSpec.from_yaml(yaml.safe_dump(_definition(tmp_path)))
    assert MonitorSpec.from_dict(spec.to_dict()) == spec


def test_unknown_monitor_lists_the_known_ones(client: Client) -> None:
    with pytest.raises(NotFoundError, match="none yet"):
        run_monitor("nope", client=client)


def test_cli_create_run_show_and_incidents(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(_definition(tmp_path)))
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    assert runner.invoke(app, [*base, "monitor", "create", str(path)]).exit_code == 0
    ok = runner.invoke(app, [*base, "monitor", "run", "churn-prod", "--at", "2026-11-02T01:00:00"])
    assert ok.exit_code == 0, ok.output
    alerting = runner.invoke(app, [*base, "monitor", "run", "churn-prod", "--at", "2026-11-04T01:00:00", "--json"])
    assert alerting.exit_code == 5, alerting.output
    assert {a["rule"] for a in json.loads(alerting.output)["alerts"]} == {"drift", "auc_drop"}
    shown = runner.invoke(app, [*base, "monitor", "show", "churn-prod"])
    assert shown.exit_code == 0 and "alerting" in shown.output
    listed = runner.invoke(app, [*base, "incident", "list", "--state", "open", "--json"])
    first = json.loads(listed.output)[0]["id"]
    assert runner.invoke(app, [*base, "incident", "ack", str(first), "--owner", "maria"]).exit_code == 0
    done = runner.invoke(app, [*base, "incident", "resolve", str(first), "--postmortem", "fixed", "--json"])
    assert json.loads(done.output)["state"] == "resolved"
    bad = runner.invoke(app, [*base, "incident", "ack", str(first)])
    assert bad.exit_code == 1 and "can move to open" in bad.output
