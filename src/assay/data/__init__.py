"""Datasets: versions identified by fingerprint, schema and size."""

from assay.data.datasets import DatasetInfo, describe_dataset

__all__ = ["DatasetInfo", "describe_dataset"]
