"""Serving: the online inference server (canary, shadow, alias reload), batch scoring and the prediction log.

Public names are imported lazily (FastAPI and pyarrow load only when used)::

    from assay.serving import create_app, read_prediction_log, score
    app = create_app("models:/churn@production")
    log = read_prediction_log("churn", start="2026-11-01")
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PredictionLogger",
    "ScoreResult",
    "ServedModel",
    "ServingConfig",
    "ServingRuntime",
    "create_app",
    "read_prediction_log",
    "score",
]

_WHERE = {
    "PredictionLogger": "assay.serving.prediction_log",
    "read_prediction_log": "assay.serving.prediction_log",
    "ServedModel": "assay.serving.model",
    "ServingConfig": "assay.serving.config",
    "ServingRuntime": "assay.serving.runtime",
    "create_app": "assay.serving.app",
    "ScoreResult": "assay.serving.batch",  # batch scoring (assay score)
    "score": "assay.serving.batch",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
