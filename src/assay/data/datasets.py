"""Dataset fingerprints: what a run trained on, identified by content, schema and size.

A file's fingerprint is the sha256 of its bytes; a folder's (a partitioned Parquet dataset) is the
sha256 over its files' relative paths and digests; an in-memory DataFrame's is the sha256 of
pandas' per-row hashes plus its schema. Parquet row counts and schemas come from the footer
metadata, so a large file is never loaded to be described.

Example::

    info = describe_dataset("data/customers.parquet")
    info.fingerprint, info.num_rows, info.schema
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay.artifacts import sha256_file
from assay.errors import InvalidInputError, NotFoundError

__all__ = ["DatasetInfo", "describe_dataset"]

_TABULAR = {".parquet", ".pq", ".csv", ".tsv", ".json", ".jsonl", ".feather", ".arrow"}


@dataclass(frozen=True)
class DatasetInfo:
    """Identity and shape of a dataset version."""

    name: str
    fingerprint: str
    schema: dict[str, str]
    num_rows: int | None
    source_uri: str | None
    files: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_dataset(source: str | os.PathLike[str] | pd.DataFrame, *, name: str | None = None) -> DatasetInfo:
    """Fingerprint, schema and row count of a file, a folder of files, or a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return _describe_frame(source, name or "dataframe")
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidInputError(
            f"log_dataset needs a file path, a folder or a pandas DataFrame; got {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFoundError(f"dataset {str(source)!r} does not exist; pass an existing file or folder")
    dataset_name = name or path.name.split(".")[0] or path.name
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if not files:
            raise InvalidInputError(f"dataset folder {str(path)!r} holds no files")
        h = hashlib.sha256()
        for f in files:
            h.update(f.relative_to(path).as_posix().encode())
            h.update(b"\0")
            h.update(sha256_file(f).encode())
        parquet = [f for f in files if f.suffix in (".parquet", ".pq")]
        schema, rows = _parquet_shape(parquet) if parquet else ({}, None)
        return DatasetInfo(dataset_name, h.hexdigest(), schema, rows, str(path.resolve()), files=len(files))
    fingerprint = sha256_file(path)
    schema, rows = _file_shape(path)
    return DatasetInfo(dataset_name, fingerprint, schema, rows, str(path.resolve()))


def _describe_frame(df: pd.DataFrame, name: str) -> DatasetInfo:
    schema = {str(c): str(t) for c, t in df.dtypes.items()}
    h = hashlib.sha256(json.dumps(schema, sort_keys=False).encode())
    if len(df):
        try:
            h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
        except TypeError:  # unhashable cells (lists, dicts): fall back to their text form
            h.update(pd.util.hash_pandas_object(df.astype(str), index=True).to_numpy().tobytes())
    return DatasetInfo(name, h.hexdigest(), schema, len(df), None)


def _parquet_shape(files: list[Path]) -> tuple[dict[str, str], int | None]:
    import pyarrow.parquet as pq

    rows = 0
    schema: dict[str, str] = {}
    for f in files:
        try:
            meta = pq.read_metadata(f)
        except Exception as exc:
            raise InvalidInputError(f"{f} is not a readable Parquet file: {exc}") from exc
        rows += meta.num_rows
        if not schema:
            schema = {fld.name: str(fld.type) for fld in meta.schema.to_arrow_schema()}
    return schema, rows


def _file_shape(path: Path) -> tuple[dict[str, str], int | None]:
    suffix = "".join(path.suffixes[-2:]) if path.suffix in (".gz", ".zst") else path.suffix
    base = suffix.split(".")[1] if suffix.count(".") > 1 else suffix.lstrip(".")
    if path.suffix in (".parquet", ".pq"):
        return _parquet_shape([path])
    if "." + base in (".csv", ".tsv"):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        opts = pacsv.ParseOptions(delimiter="\t" if base == "tsv" else ",")
        try:
            reader = pacsv.open_csv(path, parse_options=opts)
            rows = 0
            for batch in reader:
                rows += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInputError(f"{path} is not a readable CSV file: {exc}") from exc
        return {f.name: str(f.type) for f in reader.schema}, rows
    if path.suffix in _TABULAR:
        return {}, None
    return {}, None  # any other file: identified by content alone
