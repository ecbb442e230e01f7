"""What a model server holds while it runs: the live, canary and shadow versions, and their background work.

* **Routing** — :meth:`ServingRuntime.route` sends a request key to ``"canary"`` or ``"live"`` with the same md5
  bucket as :mod:`assay.experiments.assign`: the split equals
  ``AssignmentSpec(salt, ("live", "canary"), (1 - w, w))``, so a canary can be analysed as an experiment.
* **Reload** — a thread re-resolves alias (and ``latest``) URIs every ``reload_interval_s``; when one points at a
  new version, that version is loaded and warmed up first, then swapped in with one attribute assignment.
  Requests already running finish on the version they started with; none is dropped.
* **Shadow** — a thread scores a copy of each live request with the shadow version and logs it with
  ``arm="shadow"``; its queue is bounded and a full queue drops (and counts) copies, never slowing responses.

Example::

    rt = ServingRuntime(ServingConfig("models:/churn@production"), client)
    arm, model = rt.route("customer-42")
    rt.close()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from assay.experiments._hashing import hash_buckets
from assay.experiments.assign import AssignmentSpec
from assay.registry.registry import parse_model_uri
from assay.serving._inputs import Batch
from assay.serving.config import ServingConfig
from assay.serving.metrics import ServingMetrics
from assay.serving.model import ServedModel
from assay.serving.prediction_log import PredictionLogger, prediction_log_root

__all__ = ["ServingRuntime"]

_log = logging.getLogger("assay.serving")
ARMS = ("live", "canary", "shadow")


class ServingRuntime:
    """Loaded versions per arm, canary routing, alias reload, shadow scoring and the prediction log."""

    def __init__(self, config: ServingConfig, client: Any) -> None:
        self.config = config
        self.client = client
        self.metrics = ServingMetrics()
        self.models: dict[str, ServedModel | None] = {"live": None, "canary": None, "shadow": None}
        self.uris = {"live": config.model_uri, "canary": config.canary_uri, "shadow": config.shadow_uri}
        for arm, uri in self.uris.items():
            if uri is not None:
                self.models[arm] = self._load(uri)
                self.metrics.version.labels(arm).set(float(self.models[arm].version or 0))  # type: ignore[union-attr]
        self.spec: AssignmentSpec | None = None
        self._threshold = 10_000
        if config.canary_uri is not None:
            w = config.canary_weight
            self.spec = AssignmentSpec(config.salt, ("live", "canary"), (1.0 - w, w))
            self._threshold = self.spec.thresholds[0]
        root = config.log_root or prediction_log_root(client)
        self.logger = (
            PredictionLogger(
                root,
                folder=self.models["live"].name or config.model_name,  # type: ignore[union-attr]
                max_queue=config.log_queue_size,
                batch_rows=config.log_batch_rows,
                flush_s=config.log_flush_s,
            )
            if config.log
            else None
        )
        self.shadow_dropped = 0
        self._shadow_q: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=config.shadow_queue_size)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if self.models["shadow"] is not None:
            self._start(self._shadow_loop, "assay-serving-shadow")
        if config.reload_interval_s > 0 and any(self._reloadable(u) for u in self.uris.values()):
            self._start(self._reload_loop, "assay-serving-reload")
        self.ready = True

    # -- loading and reload ----------------------------------------------------------------------------------

    def _load(self, uri: str) -> ServedModel:
        predictor = self.client.registry.load_model(uri, trusted=self.config.trusted)
        served = ServedModel(predictor, allow_missing=self.config.allow_missing, key_field=self.config.key_field)
        served.warm_up()
        return served

    @staticmethod
    def _reloadable(uri: str | None) -> bool:
        return uri is not None and parse_model_uri(uri)[0] in ("alias", "latest")

    def reload(self) -> list[str]:
        """Re-resolve alias URIs now; swap in versions that changed. Returns ``["live: 3 -> 4", ...]``."""
        changes = []
        for arm, uri in self.uris.items():
            current = self.models[arm]
            if not self._reloadable(uri) or current is None:
                continue
            try:
                _, mv, _ = self.client.registry.resolve(uri)
                if mv is None or mv.version == current.version:
                    continue
                fresh = self._load(uri)
            except Exception as exc:  # store or artifact trouble: keep serving the version we have
                self.metrics.reloads.labels(arm, "error").inc()
                _log.warning("reloading %s (%s) failed, still serving v%s: %s", uri, arm, current.version, exc)
                continue
            self.models[arm] = fresh  # atomic swap: new requests see the new version
            self.metrics.reloads.labels(arm, "ok").inc()
            self.metrics.version.labels(arm).set(float(fresh.version or 0))
            changes.append(f"{arm}: {current.version} -> {fresh.version}")
            _log.info("%s now serves %s v%s (was v%s)", arm, fresh.name, fresh.version, current.version)
        return changes

    def _reload_loop(self) -> None:
        while not self._stop.wait(self.config.reload_interval_s):
            self.reload()

    # -- routing ---------------------------------------------------------------------------------------------

    def route(self, key: Any) -> tuple[str, ServedModel]:
        """``("canary", model)`` when the key's bucket falls in the canary share, else ``("live", model)``."""
        canary = self.models["canary"]
        if canary is not None and hash_buckets(self.config.salt, [str(key)])[0] >= self._threshold:
            return "canary", canary
        return "live", self.models["live"]  # type: ignore[return-value]

    # -- logging and shadow ------------------------------------------------------------------------------------

    def record(self, entry: tuple[Any, ...]) -> None:
        """Queue one request's predictions for the log (never blocks)."""
        if self.logger is not None:
            self.logger.submit(entry)

    def shadow(self, request_id: str, ts: float, batch: Batch, ids: list[str]) -> None:
        """Queue a copy of a live request for the shadow version (dropped and counted when the queue is full)."""
        if self.models["shadow"] is None:
            return
        try:
            self._shadow_q.put_nowait((request_id, ts, batch, ids))
        except queue.Full:
            self.shadow_dropped += 1

    def _shadow_loop(self) -> None:
        while True:
            item = self._shadow_q.get()
            if item is None:
                return
            request_id, ts, batch, ids = item
            model = self.models["shadow"]
            if model is None:
                continue
            t0 = time.perf_counter()
            try:
                scored = model.score(batch, threads=1)
            except Exception as exc:  # the candidate failing must not affect anything live
                self.metrics.errors.labels("shadow", "model").inc()
                _log.debug("shadow %s failed on request %s: %s", model.label, request_id, exc)
                continue
            latency = (time.perf_counter() - t0) * 1000.0
            self.metrics.rows("shadow", batch.n)
            self.record((request_id, ts, model.name, model.version, "shadow", latency, batch, scored, ids))

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _start(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def sync_metrics(self) -> None:
        log = self.logger
        self.metrics.sync(
            log_queue=log.queued if log else 0,
            log_dropped=log.dropped if log else 0,
            shadow_dropped=self.shadow_dropped,
        )

    def close(self) -> None:
        """Stop reloading, finish shadow copies, flush the prediction log. Safe to call twice."""
        self.ready = False
        self._stop.set()
        if self._threads and self.models["shadow"] is not None:
            self._shadow_q.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        if self.logger is not None:
            self.logger.close()
