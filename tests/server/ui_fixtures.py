"""A small but complete workspace for the web-UI tests: runs, datasets with checks, two model versions with
fairness, explanations and a pending approval request, an analysed A/B test, and a monitor with three windows
(the third drifted) — then four users (admin, scientist, reviewer, viewer), each with an API token.

Imported explicitly by tests/server/test_ui*.py (not a conftest: the REST-API tests own that name).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from assay.data.contract import Contract
from assay.data.profile import profile
from assay.data.records import record
from assay.data.schema_diff import schema_diff
from assay.experiments import Experiment, analyze, save_result
from assay.governance.approvals import request_promotion
from assay.governance.card import FAIRNESS_ARTIFACT
from assay.governance.explain import explain_version
from assay.governance.fairness import fairness
from assay.governance.identity import add_user, create_token
from assay.monitoring.monitors import create_monitor, run_monitor
from assay.tracking.client import Client

PROJECT = "churn"
MODEL = "churn"
EXPERIMENT = "checkout-v2"
MONITOR = "churn-prod"
DATASET = "customers"
DAY0 = dt.datetime(2026, 11, 1)

EXPERIMENT_YAML = """
name: checkout-v2
description: One-page checkout
exposures:
  source: exposures
  unit_column: user_id
  variant_column: variant
  timestamp_column: exposed_at
variants: [control, treatment]
weights: [0.5, 0.5]
primary_metric: conversion
secondary_metrics: [revenue]
guardrail_metrics: [views]
alpha: 0.05
models: {treatment: "models:/churn/2"}
metrics:
  conversion:
    kind: proportion
    source: events
    timestamp_column: ts
    filter: event = 'purchase'
    window: {end: 14d}
  revenue:
    source: events
    timestamp_column: ts
    value: amount
    window: {end: 14d}
  views:
    source: events
    timestamp_column: ts
    value: CASE WHEN event = 'view' THEN 1 ELSE 0 END
    window: {end: 14d}
    margin: 0.05
"""


@dataclass
class Workspace:
    """What the builder stored, for the tests to look up."""

    client: Client
    runs: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> API token
    request_id: int = 0


def _customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 60, n).astype("int64"),
            "spend": rng.gamma(2.0, 30.0, n) + shift,
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "sex": rng.choice(["f", "m"], n),
        }
    )


def _experiment_frames(n: int = 1500, seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users = np.arange(1, n + 1)
    variant = np.where(rng.uniform(size=n) < 0.5, "control", "treatment")
    start = pd.Timestamp("2026-03-01")
    exposed = start + pd.to_timedelta(rng.uniform(0, 5 * 86400, n), unit="s")
    p = np.where(variant == "treatment", 0.30, 0.20)
    buys = rng.uniform(size=n) < p
    views = rng.poisson(3, n) + 1
    rows = []
    for u, t, b, v in zip(users, exposed, buys, views, strict=True):
        rows += [(u, t + pd.Timedelta(hours=i + 1), "view", 0.0) for i in range(v)]
        if b:
            rows.append((u, t + pd.Timedelta(days=1), "purchase", float(rng.integers(10, 80))))
    events = pd.DataFrame(rows, columns=["user_id", "ts", "event", "amount"])
    exposures = pd.DataFrame({"user_id": users, "variant": variant, "exposed_at": exposed})
    return {"exposures": exposures, "events": events}


def _monitor_logs(folder: Path) -> dict[str, str]:
    """Three days of predictions with labels; on day 3 spend shifts and scores stop meaning much."""
    rng = np.random.default_rng(5)
    frames = []
    for day in range(3):
        n = 1500
        spend = rng.normal(50 + (25 if day == 2 else 0), 10, n)
        plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
        score = rng.uniform(0.02, 0.98, n)
        label = (rng.uniform(size=n) < (score if day < 2 else 0.5)).astype(int)
        ts = [DAY0 + dt.timedelta(days=day, seconds=int(s)) for s in rng.uniform(0, 86_399, n)]
        frames.append(pd.DataFrame({"id": np.arange(n) + day * n, "ts": ts, "spend": spend, "plan": plan,
                                    "score": score, "label": label}))  # fmt: skip
    logs = pd.concat(frames, ignore_index=True)
    paths = {k: str(folder / f"{k}.parquet") for k in ("predictions", "labels", "reference")}
    logs.drop(columns=["label"]).to_parquet(paths["predictions"])
    logs[["id", "label"]].to_parquet(paths["labels"])
    frames[0].sample(1000, random_state=1).drop(columns=["ts", "id", "label"]).to_parquet(paths["reference"])
    return paths


def build_workspace(folder: Path, *, n_runs: int = 12, users: bool = True) -> Workspace:
    """Fill a fresh store under ``folder`` (see the module docstring); ``users=False`` keeps it single-user."""
    folder.mkdir(parents=True, exist_ok=True)
    client = Client(store_url=f"sqlite:///{folder / 'assay.db'}", artifacts_url=str(folder / "artifacts"),
                    home=folder / "home")  # fmt: skip
    ws = Workspace(client)
    rng = np.random.default_rng(0)

    # -- runs with params, metric histories and tags
    for i in range(n_runs):
        model = "lgbm" if i % 2 else "logreg"
        with client.start_run(
            project=PROJECT, name=f"{model}-{i:02d}", tags={"team": "growth"}, capture_env=False
        ) as r:
            r.log_params({"model": model, "lr": 0.01 * (i + 1)})
            base = 0.70 + 0.01 * i
            for step in range(5):
                r.log_metric("auc", base + 0.01 * step, step=step)
                r.log_metric("loss", 0.6 - 0.05 * step + rng.normal(0, 0.01), step=step)
            ws.runs.append(r.id)
    client.flush()

    # -- data: two versions of customers, profile, contract check, schema diff
    old, new = _customers(800, 1), _customers(900, 2, shift=5.0).rename(columns={"tenure": "tenure_months"})
    record(profile(old), old, dataset=DATASET, client=client)
    contract = Contract.from_dict({"dataset": DATASET, "columns": {"spend": {"min": 0, "not_null": True},
                                                                    "tenure": {"min": 1, "max": 48}}})  # fmt: skip
    record(contract.validate(old), old, dataset=DATASET, client=client)
    record(profile(new), new, dataset=DATASET, client=client)
    record(schema_diff(old, new), new, dataset=DATASET, client=client)

    # -- two model versions with fairness and an explanation
    X = _customers(600, 7)
    y = ((X["spend"] > 60) ^ (rng.uniform(size=len(X)) < 0.15)).astype(int)
    features = X[["tenure", "spend"]]
    for version, c in enumerate((0.01, 1.0), start=1):
        with client.start_run(project=PROJECT, name=f"train-v{version}", capture_env=False) as r:
            clf = LogisticRegression(C=c, max_iter=200).fit(features, y)
            scores = clf.predict_proba(features)[:, 1]
            r.log_metric("auc", 0.75 + 0.05 * version)
            r.log_dataset(X, name="churn-train", role="train")
            report = fairness(y, y_score=scores, sensitive_features=X["sex"], n_bootstrap=50)
            path = folder / f"fairness-{version}.json"
            path.write_text(json.dumps(report.to_dict()))
            client.log_artifact(r.id, path, FAIRNESS_ARTIFACT)
            r.log_model(clf, MODEL, input_example=features.head(5))
    explain_version(client, f"models:/{MODEL}/2", features, y)
    client.set_alias(MODEL, "staging", 1)
    client.set_alias(MODEL, "staging", 2)
    ws.request_id = request_promotion(MODEL, 2, alias="production", comment="higher AUC", client=client)

    # -- an analysed experiment
    result = analyze(Experiment.from_yaml(EXPERIMENT_YAML), sources=_experiment_frames())
    save_result(result, client=client)

    # -- a monitor over three daily windows
    logs = _monitor_logs(folder)
    create_monitor({"name": MONITOR, "model": f"models:/{MODEL}/2", "current": logs["predictions"],
                    "timestamp": "ts", "window": "1d", "reference": logs["reference"],
                    "checks": {"drift": {"columns": ["spend", "plan"]},
                               "performance": {"labels": logs["labels"], "id": "id", "score": "score",
                                               "label": "label"},
                               "estimate": {"score": "score"}},
                    "rules": [{"name": "drift", "figure": "drift.share_drifted", "op": ">=", "threshold": 0.5}]},
                   client=client)  # fmt: skip
    for day in (2, 3, 4):
        run_monitor(MONITOR, at=f"2026-11-0{day}T01:00:00", notify=False, progress=False, client=client)

    if users:
        ws.tokens["ada"] = add_user("ada", role="admin", client=client)["token"]
        admin = Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url,
                       home=folder / "home", token=ws.tokens["ada"])  # fmt: skip
        for name, role in (("sam", "scientist"), ("rita", "reviewer"), ("vic", "viewer")):
            add_user(name, role=role, client=admin)
            ws.tokens[name] = create_token(name, client=admin)
        admin.close()
    return ws
