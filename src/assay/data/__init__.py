"""Data: dataset versions (fingerprints), profiles, contracts (checks), schema diffs, PII scans, pseudonymisation.

Everything heavy runs where the data lives through :mod:`assay.engine` (DuckDB in-process by default). Sources
are paths (Parquet/CSV/JSON, globs, folders), pandas DataFrames, Arrow tables, or — with ``engine=`` — a table
name or a SELECT on that engine.

Example::

    from assay import data
    prof = data.profile("orders.parquet")
    res = data.Contract.from_yaml("orders.contract.yaml").validate("orders.parquet")
    diff = data.schema_diff("orders_v1.parquet", "orders_v2.parquet")
    found = data.scan_pii("customers.parquet")
    data.pseudonymize("customers.parquet", columns=["email"], key=b"...", output="customers_pseudo.parquet")
    data.record(prof, "orders.parquet", dataset="orders")
"""

from assay.data.contract import CheckResult, Contract, ValidationResult
from assay.data.datasets import DatasetInfo, describe_dataset
from assay.data.pii import PiiFinding, PiiScan, scan_pii
from assay.data.profile import ColumnProfile, Profile, profile
from assay.data.pseudonymize import PseudonymizeResult, key_id, pseudonymize
from assay.data.records import dataset_checks, load_profile, record
from assay.data.schema_diff import SchemaChange, SchemaDiff, schema_diff

__all__ = [
    "CheckResult",
    "ColumnProfile",
    "Contract",
    "DatasetInfo",
    "PiiFinding",
    "PiiScan",
    "Profile",
    "PseudonymizeResult",
    "SchemaChange",
    "SchemaDiff",
    "ValidationResult",
    "dataset_checks",
    "describe_dataset",
    "key_id",
    "load_profile",
    "profile",
    "pseudonymize",
    "record",
    "scan_pii",
    "schema_diff",
]
