"""The prediction log: every served prediction, written asynchronously to date-partitioned Parquet files.

Request handlers only append one tuple per request to a bounded in-memory queue (never blocking; when it is
full the request's rows are dropped and counted). A writer thread drains it in batches into
``<root>/predictions/<model>/date=YYYY-MM-DD/part-<time>-<pid>-<n>.parquet``; each file is written to a temporary
name and renamed, so a reader never sees half a file. :meth:`PredictionLogger.close` flushes everything left.

One row per scored input row, with columns:

============  ===============================================================================
request_id    the request's id (also returned to the caller)
row           position of the row in its request
id            the row's key (``key_field`` value, ``X-Request-Key``, else request id [+ ``:row``])
timestamp     when the request arrived (UTC, ms)
model         model name; ``version`` the version that scored it; ``arm`` live, canary or shadow
latency_ms    time the server spent on the request
inputs        the row's input fields, one struct column (``inputs.x0`` in DuckDB)
prediction    the prediction, as JSON text
score         positive-class probability (binary) or the predicted value (regression), else null
============  ===============================================================================

:func:`read_prediction_log` reads it back (``features=True`` spreads the inputs into columns): the table is
what :func:`assay.monitoring.performance` takes (``id``, ``timestamp``, ``score``) and what drift checks take.

Example::

    log = read_prediction_log("churn", start="2026-11-01")
    performance(log, labels, window="1d")
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import os
import posixpath
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assay._defaults import client_or_default
from assay.errors import InvalidInputError

__all__ = ["LOG_SCHEMA", "PredictionLogger", "prediction_log_root", "read_prediction_log"]

LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("row", pa.int32()),
        ("id", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.string()),
        ("arm", pa.string()),
        ("latency_ms", pa.float64()),
        ("prediction", pa.string()),
        ("score", pa.float64()),
    ]
)
_RESERVED = set(LOG_SCHEMA.names) | {"inputs"}
_DAY_S = 86_400


class PredictionLogger:
    """Bounded, non-blocking, batched writer of prediction records (see the module docstring).

    ``folder`` puts every record under ``predictions/<folder>/`` (a server passes its live model's name, so canary
    and shadow rows of another model name still sit beside the live ones); by default each model gets its own.

    Example::

        log = PredictionLogger("/data/artifacts", max_queue=100_000)
        log.submit(entry)   # from a request handler; returns False (and counts) when full
        log.close()         # flush and stop
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        folder: str | None = None,
        max_queue: int = 100_000,
        batch_rows: int = 5_000,
        flush_s: float = 1.0,
    ) -> None:
        import fsspec

        self.fs, base = fsspec.core.url_to_fs(str(root))
        self.local = type(self.fs).__name__ == "LocalFileSystem"
        self.base = posixpath.join(base.rstrip("/"), "predictions")
        self.folder = folder  # every entry under predictions/<folder>/ (a server: its live model); else per model
        self.max_queue = max_queue
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._queued_rows = 0
        self.dropped = 0  # rows dropped because the queue was full
        self.written = 0  # rows written to files
        self.errors = 0  # failed file writes (their rows are counted in dropped)
        self._wake = threading.Event()
        self._stop = False
        self._seq = 0
        self._lock = threading.Lock()  # counters only: held for microseconds
        self._write_lock = threading.Lock()  # one drain at a time
        self._thread = threading.Thread(target=self._run, name="assay-prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Rows waiting to be written."""
        return self._queued_rows

    def submit(self, entry: tuple[Any, ...]) -> bool:
        """Queue one request's rows; never blocks. False (rows counted as dropped) when the queue is full.

        ``entry`` = ``(request_id, timestamp_s, model, version, arm, latency_ms, batch, scored, ids)``.
        """
        n = entry[6].n
        with self._lock:
            if self._stop or self._queued_rows + n > self.max_queue:
                self.dropped += n
                return False
            self._queued_rows += n
        self._queue.append(entry)
        if self._queued_rows >= self.batch_rows:
            self._wake.set()
        return True

    def flush(self) -> None:
        """Write everything queued now (from any thread)."""
        with self._write_lock:
            self._drain()

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, write what is queued, stop the writer thread."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self.flush()

    def _drain(self) -> None:
        while self._queue:
            entries = []
            rows = 0
            while self._queue and rows < self.batch_rows:
                entry = self._queue.popleft()
                entries.append(entry)
                rows += entry[6].n
            try:
                self._write(entries)
                with self._lock:
                    self._queued_rows -= rows
                    self.written += rows
            except Exception:  # disk full, permissions...: count, never crash the server
                with self._lock:
                    self._queued_rows -= rows
                    self.errors += 1
                    self.dropped += rows

    def _write(self, entries: list[tuple[Any, ...]]) -> None:
        """One file per (model, input layout, day); columns built in bulk, no per-row Python beyond list appends."""
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for entry in entries:
            batch = entry[6]
            layout = (entry[2], tuple(batch.names), batch.matrix is not None, batch.columns is not None)
            groups.setdefault(layout, []).append(entry)
        for (model, _, _, _), group in groups.items():
            table = _table(group)
            days = pc.divide(pc.cast(table.column("timestamp"), pa.int64()), 1000 * _DAY_S)  # integer division
            distinct = sorted(set(days.to_pylist()))
            for day in distinct:
                part = table if len(distinct) == 1 else table.filter(pc.equal(days, day))
                date = _dt.datetime.fromtimestamp(day * _DAY_S, tz=_dt.UTC).strftime("%Y-%m-%d")
                self._write_file(self.folder or model, date, part)

    def _write_file(self, model: str, date: str, table: pa.Table) -> None:
        self._seq += 1
        folder = posixpath.join(self.base, model, f"date={date}")
        name = f"part-{time.time_ns()}-{os.getpid()}-{self._seq}.parquet"
        if self.local:
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".parquet")
            os.close(fd)
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, posixpath.join(folder, name))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return
        with tempfile.TemporaryDirectory(prefix="assay-log-") as tmp:  # object stores: one PUT is atomic
            local = os.path.join(tmp, name)
            pq.write_table(table, local)
            self.fs.put_file(local, posixpath.join(folder, name))


def _table(group: list[tuple[Any, ...]]) -> pa.Table:
    """The log table of entries that share a model and an input layout; inputs as one struct column."""
    request_id: list[str] = []
    row: list[int] = []
    ts: list[float] = []
    version: list[str | None] = []
    arm: list[str] = []
    latency: list[float] = []
    ids: list[str] = []
    predictions: list[Any] = []
    scores: list[float | None] = []
    for rid, t, _, ver, which, lat, batch, scored, row_ids in group:
        n = batch.n
        v = None if ver is None else str(ver)
        if n == 1:
            request_id.append(rid)
            row.append(0)
            ts.append(t)
            version.append(v)
            arm.append(which)
            latency.append(lat)
        else:
            request_id.extend([rid] * n)
            row.extend(range(n))
            ts.extend([t] * n)
            version.extend([v] * n)
            arm.extend([which] * n)
            latency.extend([lat] * n)
        ids.extend(row_ids)
        predictions.extend(scored.predictions)
        scores.extend(scored.scores)
    millis = pa.array(np.floor(np.asarray(ts) * 1000).astype(np.int64)).cast(pa.timestamp("ms", tz="UTC"))
    columns = {
        "request_id": pa.array(request_id, pa.string()),
        "row": pa.array(row, pa.int32()),
        "id": pa.array(ids, pa.string()),
        "timestamp": millis,
        "model": pa.array([group[0][2]] * len(row), pa.string()),
        "version": pa.array(version, pa.string()),
        "arm": pa.array(arm, pa.string()),
        "latency_ms": pa.array(latency, pa.float64()),
        "prediction": pa.array([json.dumps(p, default=str) for p in predictions], pa.string()),
        "score": pa.array(scores, pa.float64()),
    }
    inputs = _inputs([entry[6] for entry in group])
    if inputs is not None:
        columns["inputs"] = inputs
    return pa.table(columns)


def _inputs(batches: list[Any]) -> pa.StructArray | None:
    """The batches' input rows as one struct array (fields = input names), built column-wise."""
    first = batches[0]
    if first.matrix is not None:
        matrix = first.matrix if len(batches) == 1 else np.vstack([b.matrix for b in batches])
        arrays = [pa.array(matrix[:, j]) for j in range(matrix.shape[1])]
        return pa.StructArray.from_arrays(arrays, names=list(first.names)) if arrays else None
    if first.columns is not None:
        names = list(first.names)
        values = {n: [v for b in batches for v in b.columns[n]] for n in names}
    else:  # no signature: the union of the records' fields
        records = [r if isinstance(r, dict) else {"value": r} for b in batches for r in (b.records or [])]
        names = list(dict.fromkeys(k for r in records for k in r))
        values = {n: [r.get(n) for r in records] for n in names}
    if not names:
        return None
    return pa.StructArray.from_arrays([_array(values[n]) for n in names], names=[str(n) for n in names])


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):  # mixed kinds: keep them as JSON text
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())


def prediction_log_root(client: Any = None) -> str:
    """Where prediction logs live by default: the client's artifact store."""
    return str(client_or_default(client).settings.artifacts_url)


def _flat(table: pa.Table, features: bool) -> pa.Table:
    """Meta columns, plus one column per input field when ``features`` (``input_`` prefix on a clash)."""
    if "inputs" not in table.column_names:
        return table
    struct = table.column("inputs").combine_chunks()
    table = table.drop_columns(["inputs"])
    if not features:
        return table
    for field, array in zip(struct.type, struct.flatten(), strict=True):
        name = f"input_{field.name}" if field.name in _RESERVED else field.name
        table = table.append_column(name, array)
    return table


def _day(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"The {name!r} parameter of read_prediction_log must be a date or time. Got {value!r}."
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_prediction_log(
    model: str,
    start: Any = None,
    end: Any = None,
    *,
    root: str | os.PathLike[str] | None = None,
    arm: str | None = None,
    features: bool = False,
    client: Any = None,
) -> pd.DataFrame:
    """The logged predictions of ``model`` with ``start <= timestamp < end`` (naive times are UTC), oldest first.

    ``root`` defaults to the artifact store; ``arm`` keeps one arm (``live``, ``canary``, ``shadow``);
    ``features=True`` adds one column per input field (a field named like a log column gets an ``input_``
    prefix). An empty table (with the log's columns) when nothing was logged.

    Example::

        log = read_prediction_log("churn", start="2026-11-20", arm="live", features=True)
    """
    import fsspec

    if not isinstance(model, str) or not model or "/" in model or model.startswith("."):
        raise InvalidInputError(f"The 'model' parameter of read_prediction_log must be a model name. Got {model!r}.")
    lo, hi = _day(start, "start"), _day(end, "end")
    fs, base = fsspec.core.url_to_fs(str(root) if root is not None else prediction_log_root(client))
    folder = posixpath.join(base.rstrip("/"), "predictions", model)
    paths = []
    for path in sorted(fs.glob(posixpath.join(folder, "date=*", "part-*.parquet"))):
        day = pd.Timestamp(posixpath.basename(posixpath.dirname(path))[5:], tz="UTC")
        if (lo is not None and day + pd.Timedelta(days=1) <= lo) or (hi is not None and day >= hi):
            continue
        paths.append(path)
    tables = [_flat(pq.read_table(p, filesystem=fs), features) for p in paths]
    if not tables:
        frame = LOG_SCHEMA.empty_table().to_pandas()
    else:
        frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    if lo is not None:
        frame = frame[frame["timestamp"] >= lo]
    if hi is not None:
        frame = frame[frame["timestamp"] < hi]
    if arm is not None:
        frame = frame[frame["arm"] == arm]
    frame = frame.sort_values(["timestamp", "request_id", "row"], kind="stable").reset_index(drop=True)
    return frame
