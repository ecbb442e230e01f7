"""Module-level functions over a process-wide default :class:`Client` and the active run.

Example::

    import assay
    with assay.start_run(project="churn") as run:
        assay.log_metric("loss", 0.3)     # logs to the innermost active run
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pandas as pd

from assay.errors import StateError
from assay.tracking.client import Client
from assay.tracking.run import Run

__all__ = [
    "active_run",
    "get_client",
    "get_run",
    "load_model",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "search_runs",
    "set_alias",
    "set_client",
    "set_tags",
    "start_run",
]

_client: Client | None = None
_client_lock = threading.Lock()
_stack: list[Run] = []


def get_client() -> Client:
    """The default client, built from ``ASSAY_*`` settings / ``assay.toml`` on first use."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = Client()
    return _client


def set_client(client: Client | None) -> None:
    """Replace the default client (``None`` rebuilds it from settings on next use)."""
    global _client
    with _client_lock:
        if _client is not None and _client is not client:
            _client.flush()
        _client = client


def start_run(
    project: str = "default", name: str | None = None, tags: dict[str, Any] | None = None, **kwargs: Any
) -> Run:
    """Start a run and make it the active one; use ``with`` so it ends (and fails) properly."""
    run = get_client().start_run(project, name, tags, **kwargs)
    _stack.append(run)
    return run


def _pop(run: Run) -> None:
    if run in _stack:
        _stack.remove(run)


def active_run() -> Run:
    """The innermost run started with :func:`start_run` and not yet ended."""
    if not _stack:
        raise StateError("no active run: wrap your code in `with assay.start_run(project=...):`")
    return _stack[-1]


def log_metric(key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
    active_run().log_metric(key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    active_run().log_metrics(metrics, step=step)


def log_param(key: str, value: Any) -> None:
    active_run().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    active_run().log_params(params)


def set_tags(tags: dict[str, Any]) -> None:
    active_run().set_tags(tags)


def log_dataset(
    source: str | os.PathLike[str] | pd.DataFrame, role: str = "train", name: str | None = None
) -> dict[str, Any]:
    return active_run().log_dataset(source, role=role, name=name)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    return active_run().log_artifact(local_path, artifact_path)


def log_model(model: Any, name: str, input_example: Any = None, **kwargs: Any) -> Any:
    return active_run().log_model(model, name, input_example=input_example, **kwargs)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def search_runs(
    project: str | list[str] | None = None,
    filter: str | None = None,
    order_by: list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    return get_client().search_runs(project=project, filter=filter, order_by=order_by, limit=limit)


def set_alias(name: str, alias: str, version: int) -> None:
    get_client().set_alias(name, alias, version)


def load_model(uri: str, *, trusted: bool = False) -> Any:
    return get_client().load_model(uri, trusted=trusted)
