"""assay: one platform for a data-science team — tracking, registry, governance, serving,
monitoring and experiments.

Example::

    import assay
    with assay.start_run(project="churn", name="baseline") as run:
        run.log_params({"learning_rate": 0.05})
        run.log_metric("auc", 0.91)
"""

from assay.errors import AssayError
from assay.registry.predictor import Predictor
from assay.registry.registry import ModelVersion
from assay.tracking.autolog import autolog
from assay.tracking.client import Client
from assay.tracking.fluent import (
    active_run,
    get_client,
    get_run,
    load_model,
    log_artifact,
    log_dataset,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    search_runs,
    set_alias,
    set_client,
    set_tags,
    start_run,
)
from assay.tracking.run import Run

__version__ = "0.1.0"

__all__ = [
    "AssayError",
    "Client",
    "ModelVersion",
    "Predictor",
    "Run",
    "__version__",
    "active_run",
    "autolog",
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
