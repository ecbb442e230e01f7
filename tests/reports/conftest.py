"""A small stored world for the report tests: a churn model with metrics, a fairness audit and a production
alias; an A/B test whose treatment serves it, with a known lift in conversion; a monitor that catches an
injected drift and opens an incident. Everything goes through the real APIs into a real store."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from assay.experiments import Experiment, analyze, save_result
from assay.governance import fairness
from assay.governance.card import FAIRNESS_ARTIFACT
from assay.monitoring.monitors import create_monitor, run_monitor
from assay.tracking.client import Client

START = pd.Timestamp("2026-10-01")
DAY0 = dt.datetime(2026, 11, 1)

EXPERIMENT_YAML = """
name: {name}
description: New churn model drives retention offers
exposures: {{source: exposures, unit_column: user_id, variant_column: variant, timestamp_column: exposed_at}}
variants: [control, treatment]
weights: [0.5, 0.5]
primary_metric: retained
guardrail_metrics: [complaints]
secondary_metrics: [spend]
dimensions: [region]
alpha: 0.05
method: {method}
models: {{treatment: "models:/churn@production"}}
metrics:
  retained: {{kind: proportion, source: events, timestamp_column: ts, filter: "event = 'renew'",
             window: {{end: 28d}}}}
  spend: {{source: events, timestamp_column: ts, value: amount, window: {{end: 28d}}}}
  complaints: {{source: events, timestamp_column: ts, value: "event = 'complaint'", window: {{end: 28d}},
               direction: decrease, margin: 0.05}}
"""


def experiment_frames(n: int = 4000, lift: float = 0.15, seed: int = 3, share: float = 0.5) -> dict[str, pd.DataFrame]:
    """Exposures and events; treatment (``share`` of units) renews ``1 + lift`` times as often as control."""
    rng = np.random.default_rng(seed)
    users = np.arange(1, n + 1)
    variant = rng.choice(["control", "treatment"], n, p=[1 - share, share])
    exposed = START + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s")
    rate = np.where(variant == "treatment", 0.4 * (1 + lift), 0.4)
    renew = rng.random(n) < rate
    complaint = rng.random(n) < 0.05
    rows = [
        pd.DataFrame(
            {
                "user_id": users[renew],
                "ts": exposed[renew] + pd.Timedelta(days=3),
                "event": "renew",
                "amount": np.round(rng.gamma(2, 10, renew.sum())),
            }
        ),
        pd.DataFrame(
            {
                "user_id": users[complaint],
                "ts": exposed[complaint] + pd.Timedelta(days=2),
                "event": "complaint",
                "amount": 0.0,
            }
        ),
    ]
    events = pd.concat(rows, ignore_index=True)
    region = rng.choice(["north", "south"], n)
    exposures = pd.DataFrame({"user_id": users, "variant": variant, "exposed_at": exposed, "region": region})
    return {"exposures": exposures, "events": events}


def store_experiment(
    client: Client,
    name: str = "retention-offers",
    lift: float = 0.15,
    *,
    linked: bool = True,
    share: float = 0.5,
    seed: int = 3,
    method: str = "fixed",
) -> Experiment:
    """Analyse the generated experiment and save the analysis (treatment linked to churn@production)."""
    experiment = Experiment.from_yaml(EXPERIMENT_YAML.format(name=name, method=method))
    if not linked:
        import dataclasses

        experiment = dataclasses.replace(experiment, models={})
    save_result(analyze(experiment, sources=experiment_frames(lift=lift, share=share, seed=seed)), client=client)
    return experiment


def register_churn(client: Client, tmp_path: Path, name: str = "churn") -> int:
    """Train and register a churn model with an AUC interval and a fairness audit; alias production."""
    rng = np.random.default_rng(0)
    n = 600
    x = pd.DataFrame({"tenure": rng.integers(0, 60, n).astype(float), "spend": rng.normal(50, 10, n)})
    gender = rng.choice(["F", "M"], n)
    y = ((x["tenure"] < 15) ^ (rng.random(n) < 0.1)).astype(int)
    model = LogisticRegression(max_iter=300).fit(x, y)
    scores = model.predict_proba(x)[:, 1]
    report = fairness(y, y_score=scores, sensitive_features=pd.Series(gender, name="gender"), n_bootstrap=50)
    path = tmp_path / "fairness.json"
    import json

    path.write_text(json.dumps(report.to_dict()))
    with client.start_run(project="churn", name="train-lr") as run:
        run.log_metrics({"auc": 0.84, "auc_ci_low": 0.81, "auc_ci_high": 0.87, "log_loss": 0.41})
        run.log_dataset(x.iloc[:400], role="train", name="customers")
        run.log_dataset(x.iloc[400:], role="test", name="customers_holdout")
        run.log_artifact(path, FAIRNESS_ARTIFACT)
        mv = run.log_model(model, name=name, input_example=x.head(5))
    client.set_alias(name, "production", mv.version)
    return mv.version


def drifting_monitor(client: Client, tmp_path: Path, model: str = "churn", shift: float = 20.0) -> None:
    """Two days of predictions, the second with tenure shifted by ``shift``: the drift rule fires and opens an
    incident (monitor ``<model>-prod`` on ``models:/<model>@production``)."""
    rng = np.random.default_rng(5)
    frames = []
    for day in range(2):
        m = 1500
        tenure = rng.normal(30 + (shift if day == 1 else 0), 8, m)
        ts = [DAY0 + dt.timedelta(days=day, seconds=int(s)) for s in rng.uniform(0, 86_000, m)]
        frames.append(pd.DataFrame({"ts": ts, "tenure": tenure, "spend": rng.normal(50, 10, m)}))
    logs = pd.concat(frames, ignore_index=True)
    logs.to_parquet(tmp_path / f"{model}-predictions.parquet")
    frames[0].drop(columns=["ts"]).to_parquet(tmp_path / f"{model}-reference.parquet")
    create_monitor(
        {
            "name": f"{model}-prod",
            "model": f"models:/{model}@production",
            "current": str(tmp_path / f"{model}-predictions.parquet"),
            "timestamp": "ts",
            "window": "1d",
            "reference": str(tmp_path / f"{model}-reference.parquet"),
            "checks": {"drift": {"columns": ["tenure", "spend"]}},
            "rules": [
                {"name": "drift", "figure": "drift.share_drifted", "op": ">=", "threshold": 0.5, "severity": "error"}
            ],
        },
        client=client,
    )
    run_monitor(f"{model}-prod", at="2026-11-02T01:00:00", client=client)
    run_monitor(f"{model}-prod", at="2026-11-03T01:00:00", client=client)


@dataclass
class World:
    client: Client
    version: int
    experiment: Experiment
    folder: Path


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The whole stored world on SQLite, built once per session (tests add to it, never change it)."""
    folder = tmp_path_factory.mktemp("reports-world")
    client = Client(
        store_url=f"sqlite:///{folder / 'assay.db'}", artifacts_url=str(folder / "artifacts"), home=folder / "home"
    )
    version = register_churn(client, folder)
    experiment = store_experiment(client)
    drifting_monitor(client, folder)
    client.flush()
    yield World(client, version, experiment, folder)
    client.close()


def pdf_text(data: bytes) -> str:
    """The text shown by an fpdf2 PDF: the ``(...) Tj`` strings of its (Flate-compressed) content streams."""
    out = []
    for m in re.finditer(rb"/Length (\d+)\b[^>]*>>\s*stream\r?\n", data):
        raw = data[m.end() : m.end() + int(m.group(1))]
        try:
            content = zlib.decompress(raw)
        except zlib.error:
            content = raw
        for s in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content):
            out.append(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1"))
    return "\n".join(out)


def pdf_pages(data: bytes) -> int:
    """Number of pages (``/Type /Page`` objects) in a PDF."""
    return len(re.findall(rb"/Type\s*/Page\b", data))


EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I
)


def assert_offline(html: str) -> None:
    """No element loads anything from a URL, and outside the inlined plotly.js bundle no URL appears at all."""
    assert EXTERNAL.search(html) is None, EXTERNAL.search(html)
    assert "<script src" not in html.lower() and "<link" not in html.lower()
    from plotly.offline import get_plotlyjs

    rest = html.replace(get_plotlyjs(), "")
    assert re.search(r"https?://", rest) is None, re.search(r".{60}https?://.{60}", rest)
