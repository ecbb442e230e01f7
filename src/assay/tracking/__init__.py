"""Experiment tracking: runs, params, metrics, datasets, artifacts, environment, search."""

from assay.tracking.client import Client
from assay.tracking.run import Run

__all__ = ["Client", "Run"]
