"""Prometheus metrics of one model server, on a registry of its own (several apps can live in one process).

With ``PROMETHEUS_MULTIPROC_DIR`` set (``assay serve --workers N`` sets it), every worker writes its values to
that folder and ``GET /metrics`` adds them up across workers (prometheus_client's multiprocess mode).

========================================  ==============================================================
metric                                    meaning
========================================  ==============================================================
assay_serving_requests_total              requests by endpoint and HTTP status
assay_serving_request_seconds             latency histogram by endpoint (time inside the server)
assay_serving_errors_total                4xx/5xx answers by endpoint and kind (client, server, overload)
assay_serving_predictions_total           rows scored by arm (live, canary, shadow)
assay_serving_in_flight                   requests being handled now (the queue the bound applies to)
assay_serving_log_queue_rows              prediction-log rows waiting to be written
assay_serving_log_dropped_rows_total      prediction-log rows dropped (queue full or write failure)
assay_serving_shadow_dropped_total        shadow copies dropped because the shadow queue was full
assay_serving_reloads_total               model versions swapped in by alias reload, by arm and outcome
assay_serving_model_version               version served per arm
========================================  ==============================================================
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _mp

__all__ = ["ServingMetrics"]

ENDPOINTS = ("/predict", "/explain", "/health", "/ready", "/metrics", "/model")
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServingMetrics:
    """The counters, histograms and gauges above, with label children cached for the hot path."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = CollectorRegistry(auto_describe=True)
        self.registry = reg
        self.requests = Counter(
            "assay_serving_requests", "Requests by endpoint and status", ["endpoint", "status"], registry=reg
        )
        self.latency = Histogram(
            "assay_serving_request_seconds", "Time inside the server", ["endpoint"], buckets=_BUCKETS, registry=reg
        )
        self.errors = Counter(
            "assay_serving_errors", "Error answers by endpoint and kind", ["endpoint", "kind"], registry=reg
        )
        self.predictions = Counter("assay_serving_predictions", "Rows scored by arm", ["arm"], registry=reg)
        self.in_flight = Gauge(
            "assay_serving_in_flight", "Requests being handled", registry=reg, multiprocess_mode="livesum"
        )
        self.log_queue = Gauge(
            "assay_serving_log_queue_rows", "Prediction-log rows waiting", registry=reg, multiprocess_mode="livesum"
        )
        self.log_dropped = Counter("assay_serving_log_dropped_rows", "Prediction-log rows dropped", registry=reg)
        self.shadow_dropped = Counter("assay_serving_shadow_dropped", "Shadow copies dropped", registry=reg)
        self.reloads = Counter("assay_serving_reloads", "Alias reloads", ["arm", "outcome"], registry=reg)
        self.version = Gauge(
            "assay_serving_model_version", "Version served per arm", ["arm"], registry=reg, multiprocess_mode="liveall"
        )
        self._latency = {e: self.latency.labels(e) for e in (*ENDPOINTS, "other")}
        self._requests: dict[tuple[str, int], Any] = {}
        self._rows = {arm: self.predictions.labels(arm) for arm in ("live", "canary", "shadow")}
        self._reported_dropped = 0
        self._reported_shadow = 0

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request (called once per request, from the ASGI front layer)."""
        child = self._requests.get((endpoint, status))
        if child is None:
            child = self._requests[(endpoint, status)] = self.requests.labels(endpoint, str(status))
        child.inc()
        self._latency[endpoint].observe(seconds)
        if status >= 400:
            kind = "overload" if status == 503 else ("client" if status < 500 else "server")
            self.errors.labels(endpoint, kind).inc()

    def rows(self, arm: str, n: int) -> None:
        self._rows[arm].inc(n)

    def sync(self, *, log_queue: int, log_dropped: int, shadow_dropped: int) -> None:
        """Bring the gauges and drop counters up to date (called when metrics are scraped)."""
        self.log_queue.set(log_queue)
        if log_dropped > self._reported_dropped:
            self.log_dropped.inc(log_dropped - self._reported_dropped)
            self._reported_dropped = log_dropped
        if shadow_dropped > self._reported_shadow:
            self.shadow_dropped.inc(shadow_dropped - self._reported_shadow)
            self._reported_shadow = shadow_dropped

    def render(self) -> bytes:
        """The Prometheus text exposition (summed over workers in multiprocess mode)."""
        if self.multiprocess:
            merged = CollectorRegistry()
            _mp.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
