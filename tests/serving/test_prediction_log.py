"""The prediction log: batched Parquet files by date, atomic, bounded (drops counted), readable by monitoring."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.errors import InvalidInputError
from assay.monitoring.performance import performance
from assay.registry.signature import ColumnSpec, Signature
from assay.serving._inputs import InputSchema
from assay.serving.model import Scored
from assay.serving.prediction_log import LOG_SCHEMA, PredictionLogger, read_prediction_log

SCHEMA = InputSchema(Signature((ColumnSpec("age", "integer"), ColumnSpec("score", "float"))))
DAY1 = pd.Timestamp("2026-11-20 23:59:59", tz="UTC").timestamp()
DAY2 = pd.Timestamp("2026-11-21 00:00:01", tz="UTC").timestamp()


def _entry(request_id: str, ts: float, n: int = 1, arm: str = "live", model: str = "churn") -> tuple:
    batch = SCHEMA.batch([{"age": i, "score": 0.5} for i in range(n)])
    scored = Scored([1] * n, [[0.2, 0.8]] * n, [0.8] * n)
    ids = [request_id] if n == 1 else [f"{request_id}:{i}" for i in range(n)]
    return (request_id, ts, model, 3, arm, 1.25, batch, scored, ids)


def test_rows_are_written_by_date_atomically_and_read_back(tmp_path: Path) -> None:
    log = PredictionLogger(tmp_path, batch_rows=2, flush_s=60)
    assert log.submit(_entry("a", DAY1, n=3))
    assert log.submit(_entry("b", DAY2))
    assert log.submit(_entry("c", DAY2, model="other"))
    log.close()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert all(f.endswith(".parquet") and "/part-" in f for f in files)  # no temporary files left behind
    stored = pq.read_table(tmp_path / files[0])
    assert stored.schema.field("inputs").type == pa.struct([("age", pa.float64()), ("score", pa.float64())])
    assert {f.split("/")[2] for f in files if "/churn/" in f} == {"date=2026-11-20", "date=2026-11-21"}
    frame = read_prediction_log("churn", root=tmp_path)
    assert list(frame.columns) == LOG_SCHEMA.names
    assert frame["request_id"].tolist() == ["a", "a", "a", "b"] and frame["row"].tolist() == [0, 1, 2, 0]
    assert frame["id"].tolist() == ["a:0", "a:1", "a:2", "b"]
    assert frame["version"].unique().tolist() == ["3"] and frame["score"].tolist() == [0.8] * 4
    assert frame["prediction"].iloc[0] == "1" and frame["latency_ms"].iloc[0] == 1.25
    assert (log.written, log.dropped, log.queued) == (5, 0, 0)
    late = read_prediction_log("churn", start="2026-11-21", root=tmp_path, features=True)
    assert late["request_id"].tolist() == ["b"]
    assert late["age"].tolist() == [0] and late["input_score"].tolist() == [0.5]  # 'score' is a log column
    early = read_prediction_log("churn", end=pd.Timestamp("2026-11-21", tz="UTC"), root=tmp_path)
    assert len(early) == 3
    assert read_prediction_log("churn", root=tmp_path, arm="shadow").empty
    assert read_prediction_log("nobody", root=tmp_path).columns.tolist() == LOG_SCHEMA.names


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    log = PredictionLogger(tmp_path, max_queue=4, batch_rows=1_000, flush_s=60)
    results = [log.submit(_entry(f"r{i}", DAY1, n=2)) for i in range(3)]
    assert results == [True, True, False] and log.dropped == 2 and log.queued == 4
    log.close()
    assert log.written == 4 and not log.submit(_entry("late", DAY1))  # closed: counted, not written
    assert log.dropped == 3
    assert len(read_prediction_log("churn", root=tmp_path)) == 4


def test_the_writer_flushes_on_its_own(tmp_path: Path) -> None:
    log = PredictionLogger(tmp_path, flush_s=0.05)
    log.submit(_entry("a", time.time()))
    deadline = time.monotonic() + 30
    while log.written == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(read_prediction_log("churn", root=tmp_path)) == 1
    log.close()


def test_log_feeds_monitoring_performance(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    log = PredictionLogger(tmp_path)
    labels = []
    for i in range(200):
        p = float(rng.uniform())
        batch = SCHEMA.batch([{"age": i, "score": p}])
        log.submit(
            (f"q{i}", DAY1 - i * 60, "churn", 1, "live", 1.0, batch, Scored([int(p > 0.5)], None, [p]), [f"c{i}"])
        )
        labels.append({"id": f"c{i}", "label": int(rng.uniform() < p)})
    log.close()
    report = performance(read_prediction_log("churn", root=tmp_path), pd.DataFrame(labels), window=None)
    window = report.overall
    assert window.n == 200 and window.n_labelled == 200
    assert 0.6 < window.metrics["auc"].value <= 1.0


def test_reader_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="model name"):
        read_prediction_log("../etc", root=tmp_path)
    with pytest.raises(InvalidInputError, match="'start'"):
        read_prediction_log("churn", start="not a date", root=tmp_path)


def test_a_server_logs_every_arm_under_its_live_model(tmp_path: Path) -> None:
    log = PredictionLogger(tmp_path, folder="churn")
    log.submit(_entry("a", DAY1))
    log.submit(_entry("a", DAY1, arm="shadow", model="churn-challenger"))
    log.close()
    frame = read_prediction_log("churn", root=tmp_path)
    assert frame[["arm", "model"]].values.tolist() == [["live", "churn"], ["shadow", "churn-challenger"]]
    assert read_prediction_log("churn-challenger", root=tmp_path).empty
