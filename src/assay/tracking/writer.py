"""The background writer: metric points are buffered in memory and written in batches.

``log_metric`` only appends a tuple to a deque (about a microsecond), so a training loop never
waits on the database. A daemon thread drains the buffer every ``interval`` seconds, or sooner
when ``batch_size`` points are waiting, and writes each batch in one transaction. ``flush()``
returns once everything logged before it is committed, and re-raises a write that failed.
Order is kept: a flush marker is only released after every point queued before it is durable.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from assay.errors import StoreError
from assay.store.database import Database
from assay.store.runs import MetricPoint, insert_metrics

__all__ = ["BackgroundWriter"]

log = logging.getLogger(__name__)

_getpid = os.getpid
_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


class _Marker:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class BackgroundWriter:
    """Batches metric points into few transactions on a daemon thread."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 0.2,
        batch_size: int = 200_000,
        sink: Callable[[list[MetricPoint]], None] | None = None,
    ) -> None:
        """``sink`` writes one batch (default: one transaction on ``db``); remote mode sends it over HTTP.

        A sink raising ``StoreError`` keeps the batch for the next tick; any other error drops it (logged).
        """
        self.db = db
        self._sink = sink
        self.interval = interval
        self.batch_size = batch_size
        self._buf: deque[Any] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._error: BaseException | None = None
        _writers.add(self)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                if self._pid != os.getpid() and self._pid != -1:
                    self._buf = deque()  # a forked child must not re-write its parent's points
                self._pid = os.getpid()
                self._stop = False
                self._thread = threading.Thread(target=self._loop, name="assay-writer", daemon=True)
                self._thread.start()

    def put(self, point: MetricPoint) -> None:
        """Queue one point (the caller-side hot path)."""
        buf = self._buf
        buf.append(point)
        if len(buf) >= self.batch_size:
            self._wake.set()
        if self._pid != _getpid():
            self._ensure_thread()

    def put_many(self, points: list[MetricPoint]) -> None:
        self._buf.extend(points)
        self._ensure_thread()
        if len(self._buf) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed; raise if a write failed."""
        if not self._buf and self._error is None:
            return
        self._ensure_thread()
        marker = _Marker()
        self._buf.append(marker)
        self._wake.set()
        if not marker.done.wait(timeout):
            raise StoreError(f"metrics were not written within {timeout} s; the store may be overloaded")
        if marker.error is not None:
            raise StoreError(f"writing metrics to {self.db.safe_url} failed: {marker.error}") from marker.error

    def close(self) -> None:
        """Flush and stop the thread."""
        try:
            self.flush()
        finally:
            self._stop = True
            self._wake.set()
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                self._thread.join(timeout=5)
            self._thread = None

    def _drain(self) -> tuple[list[MetricPoint], list[_Marker]]:
        points: list[MetricPoint] = []
        markers: list[_Marker] = []
        buf = self._buf
        popleft = buf.popleft
        limit = self.batch_size
        while buf and len(points) < limit:
            item = popleft()
            if isinstance(item, _Marker):
                markers.append(item)
                break  # release the marker as soon as what came before it is durable
            points.append(item)
        return points, markers

    def _loop(self) -> None:
        pending: list[MetricPoint] = []
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            while True:
                points, markers = self._drain()
                pending.extend(points)
                error: BaseException | None = None
                if pending:
                    try:
                        if self._sink is None:
                            self.db.retrying_write(lambda conn, batch=pending: insert_metrics(conn, batch))
                        else:
                            self._sink(pending)
                        pending = []
                    except StoreError as exc:  # store unreachable: keep the batch, retry next tick
                        log.warning("assay: writing %d metric points failed, will retry: %s", len(pending), exc)
                        self._error = error = exc
                    except Exception as exc:
                        log.error("assay: dropping %d metric points that cannot be written: %s", len(pending), exc)
                        self._error = error = exc
                        pending = []
                for m in markers:
                    m.error = self._error  # the failure since the previous flush, if any
                    m.done.set()
                if markers:
                    self._error = None
                if error is not None:
                    break  # back off until the next tick, keeping `pending`
                if not self._buf:
                    break
            if self._stop and not self._buf and not pending:
                return


@atexit.register
def _flush_all() -> None:
    for w in list(_writers):
        try:
            w.flush(timeout=60)
        except Exception as exc:
            log.error("assay: could not flush metrics at exit: %s", exc)
