"""A run handle: log to it while it is active, read from it at any time.

Metric logging is the hot path: validation plus an append to the background writer's buffer.
Params, tags, datasets and artifacts are written synchronously, so a conflict (a param
re-logged with a different value) is raised where it happened.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.errors import InvalidInputError, StateError

if TYPE_CHECKING:
    from assay.registry.registry import ModelVersion
    from assay.tracking.client import Client

__all__ = ["Run"]

_MAX_KEY = 255
_time = time.time


def _validate_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY:
        raise InvalidInputError(f"{what} key must be a non-empty string of at most {_MAX_KEY} characters; got {key!r}")
    return key


class Run:
    """One training or analysis run. Use as a context manager to end it (``finished``/``failed``).

    Example::

        with client.start_run(project="churn") as run:
            run.log_metric("loss", 0.3)
    """

    def __init__(self, client: Client, run_id: str, project: str, name: str, *, active: bool = False) -> None:
        self._client = client
        self.id = run_id
        self.project = project
        self.name = name
        self._active = active
        self._steps: dict[str, int] = {}
        self._put = client._writer.put

    def __repr__(self) -> str:
        return f"<Run {self.id} project={self.project!r} name={self.name!r}>"

    # -- logging ---------------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
        """Queue one metric point; returns in about a microsecond (written in the background).

        ``step`` defaults to one more than the last step logged for this key in this run (0 first).
        ``timestamp`` is seconds since the epoch (default: now). NaN and ±inf are stored as they are
        (a diverging loss is worth recording); search comparisons never match NaN.
        """
        if not self._active:
            raise StateError(f"run {self.id} has ended; start a new run to log more metrics")
        if key.__class__ is not str or not key or len(key) > _MAX_KEY:
            _validate_key(key, "metric")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"metric {key!r} must be a number; got {value!r}") from None
        if step is None:
            step = self._steps.get(key, 0)
        elif step.__class__ is not int:
            if isinstance(step, bool) or (not isinstance(step, int) and not hasattr(step, "__index__")):
                raise InvalidInputError(f"metric step must be an integer; got {step!r}")
            step = int(step)
        self._steps[key] = step + 1
        ts = int(_time() * 1000) if timestamp is None else int(timestamp * 1000)
        self._put((self.id, key, v, step, ts))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None, timestamp: float | None = None) -> None:
        """Queue several metrics at one step."""
        if not isinstance(metrics, dict):
            raise InvalidInputError(f"log_metrics needs a dict of name → number; got {type(metrics).__name__}")
        ts = _time() if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(key, value, step=step, timestamp=ts)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        """Record hyper-parameters (stored as text); re-logging a key with another value is a ConflictError."""
        self._require_active("log params")
        self._client.log_params(self.id, params)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set tags (mutable labels; setting a key again replaces its value)."""
        self._client.set_tags(self.id, tags)

    def log_dataset(
        self, source: str | os.PathLike[str] | pd.DataFrame, role: str = "train", name: str | None = None
    ) -> dict[str, Any]:
        """Link a dataset version (fingerprint, schema, row count) to this run as an input."""
        self._require_active("log a dataset")
        return self._client.log_dataset(self.id, source, role=role, name=name)

    def log_artifact(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Store a file (or every file under a folder) with the run; returns the logical path."""
        self._require_active("log an artifact")
        return self._client.log_artifact(self.id, local_path, artifact_path)

    def log_model(
        self,
        model: Any,
        name: str,
        input_example: Any = None,
        *,
        description: str | None = None,
        artifact_path: str = "model",
    ) -> ModelVersion:
        """Save ``model`` in a safe format with the run and register it as a new version of ``name``."""
        self._require_active("log a model")
        self.flush()
        return self._client.log_model(
            self.id,
            model,
            name,
            input_example=input_example,
            description=description,
            artifact_path=artifact_path,
        )

    def flush(self) -> None:
        """Block until every metric logged so far is durable."""
        self._client.flush()

    def end(self, status: str = "finished") -> None:
        """Flush and mark the run ``finished`` (or ``failed``/``killed``)."""
        if not self._active:
            return
        self._active = False
        try:
            self.flush()
        finally:
            self._client.set_terminated(self.id, status)

    def _require_active(self, what: str) -> None:
        if not self._active:
            raise StateError(f"run {self.id} has ended; cannot {what}. Start a new run.")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from assay.tracking import fluent

        fluent._pop(self)
        if exc_type is None:
            self.end("finished")
        else:
            self.end("killed" if exc_type is KeyboardInterrupt else "failed")

    # -- reading ---------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Status, times, user, host, environment, params, latest metrics and tags, fresh from the store."""
        return self._client.run_info(self.id)

    @property
    def status(self) -> str:
        return self.info()["status"]

    @property
    def params(self) -> dict[str, str]:
        return self.info()["params"]

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of each metric."""
        return self.info()["metrics"]

    @property
    def tags(self) -> dict[str, str]:
        return self.info()["tags"]

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every point logged for ``key``: columns ``step``, ``value``, ``timestamp`` (UTC)."""
        rows = self._client.metric_history(self.id, key)
        df = pd.DataFrame(rows, columns=["step", "value", "ts_ms"])
        df["timestamp"] = pd.to_datetime(df.pop("ts_ms"), unit="ms", utc=True)
        df["value"] = df["value"].astype("float64")
        return df

    def inputs(self) -> list[dict[str, Any]]:
        """Datasets linked to this run (role, name, fingerprint, rows, source)."""
        return self._client.run_inputs(self.id)

    def artifacts(self) -> list[dict[str, Any]]:
        """Logical paths, digests and sizes of this run's artifacts."""
        return self._client.list_artifacts(self.id)

    def download_artifact(self, path: str, dest: str | os.PathLike[str]) -> str:
        return str(self._client.download_artifact(self.id, path, dest))


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)
