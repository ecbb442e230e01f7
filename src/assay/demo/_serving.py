"""The demo's serving step: batch scoring of eight weeks of new customers (and of the test set, the monitor's
reference) with :func:`assay.serving.batch.score`, and online scoring through the real inference app
(:func:`assay.serving.create_app`) driven in-process over ASGI, whose requests land in the prediction log.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.demo.company import FEATURES

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["SCORE_COLUMN", "BatchScores", "OnlineScores", "score_batches", "score_online"]

#: The batch scorer's positive-class probability column.
SCORE_COLUMN = "probability_1"


@dataclass(frozen=True)
class BatchScores:
    """The scored traffic and reference files, with the scorer's own accounts of each."""

    traffic_path: Path
    reference_path: Path
    rows: int
    rows_per_second: float
    mean_score: float
    summary: str


@dataclass(frozen=True)
class OnlineScores:
    """What the online app answered and what its prediction log holds afterwards."""

    requests: int
    rows: int
    logged_rows: int
    version: int
    p50_latency_ms: float
    example: dict[str, Any]


def score_batches(client: Client, uri: str, traffic: Path, test: Path, folder: Path) -> BatchScores:
    """Score the production traffic and the test split with ``uri``; ids and times pass through."""
    from assay.serving.batch import score

    scored = score(uri, traffic, folder / "scored_traffic.parquet", client=client, show_progress=False)
    reference = score(uri, test, folder / "scored_reference.parquet", client=client, show_progress=False)
    mean = float(pd.read_parquet(scored.output, columns=[SCORE_COLUMN])[SCORE_COLUMN].mean())
    return BatchScores(
        Path(scored.output), Path(reference.output), scored.rows, scored.rows_per_second, mean, scored.summary()
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame[list(FEATURES)].astype(object).where(frame[list(FEATURES)].notna(), None)
    out = []
    for rec in rows.to_dict(orient="records"):
        clean = {}
        for key, value in rec.items():
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            clean[key] = value
        out.append(clean)
    return out


def score_online(client: Client, uri: str, customers: pd.DataFrame, *, requests: int = 20) -> OnlineScores:
    """Send ``requests`` POST /predict calls (one to a few customers each) to the inference app, in-process;
    the app's lifespan shutdown flushes the prediction log, which is then read back."""
    with warnings.catch_warnings():  # starlette's note about its httpx transport is not the demo user's concern
        warnings.filterwarnings("ignore", message=".*httpx.*")
        from fastapi.testclient import TestClient

    from assay.serving import create_app, read_prediction_log

    app = create_app(uri, client=client)
    runtime = app.state.runtime
    name = runtime.models["live"].name
    before = len(read_prediction_log(name, client=client))
    latencies: list[float] = []
    rows = 0
    example: dict[str, Any] = {}
    version = runtime.models["live"].version
    with TestClient(app) as http:
        for i in range(requests):
            part = customers.iloc[i * 3 : i * 3 + 1 + i % 3]
            if part.empty:
                break
            ids = part["customer_id"].tolist()
            sent = time.perf_counter()
            answer = http.post("/predict", json=_records(part), headers={"X-Request-Key": ids[0]})
            latencies.append((time.perf_counter() - sent) * 1000.0)
            answer.raise_for_status()
            body = answer.json()
            rows += len(part)
            if not example:
                example = {"customer_id": ids[0], **{k: v for k, v in body.items() if k != "predictions"}}
                example["prediction"] = body.get("predictions", [None])[0]
                example["probability"] = _first_probability(body)
            version = int(body["version"])
    logged = len(read_prediction_log(name, client=client)) - before
    p50 = sorted(latencies)[len(latencies) // 2] if latencies else math.nan
    return OnlineScores(len(latencies), rows, logged, version, p50, example)


def _first_probability(body: dict[str, Any]) -> float | None:
    probs = body.get("probabilities")
    if isinstance(probs, list) and probs:
        first = probs[0]
        if isinstance(first, list):
            return float(first[-1])
    return None
