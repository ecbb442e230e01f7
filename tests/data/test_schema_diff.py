"""schema_diff: added/removed/retyped/renamed/nullability changes, breaking classification, inputs of every kind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.data.schema_diff import SchemaChange, SchemaDiff, _compare, _parse_type, schema_diff
from assay.engine import Engine
from assay.errors import InvalidInputError


def _kinds(diff: SchemaDiff) -> dict[str, tuple[str, bool]]:
    return {c.column: (c.kind, c.breaking) for c in diff.changes}


@pytest.mark.parametrize(
    ("old", "new", "breaking"),
    [
        ("int32", "int64", False),
        ("INTEGER", "BIGINT", False),
        ("float32", "DOUBLE", False),
        ("int64", "double precision", False),  # int → float: not breaking (the detail warns about precision)
        ("INTEGER", "DECIMAL(12,2)", False),
        ("BIGINT", "DECIMAL(10,2)", True),  # too few digits
        ("DECIMAL(10,2)", "DECIMAL(12,4)", False),
        ("DECIMAL(10,2)", "DECIMAL(10,4)", True),
        ("VARCHAR(10)", "character varying(20)", False),
        ("VARCHAR(20)", "VARCHAR(10)", True),
        ("DATE", "TIMESTAMP", False),
        ("TIMESTAMP", "DATE", True),
        ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", True),
        ("BIGINT", "INTEGER", True),
        ("DOUBLE", "FLOAT", True),
        ("DOUBLE", "BIGINT", True),
        ("VARCHAR", "BIGINT", True),
        ("BIGINT", "VARCHAR", True),
        ("uint32", "int64", False),
        ("int32", "uint64", True),
        ("BOOLEAN", "INTEGER", True),
    ],
)
def test_type_changes_are_classified(old: str, new: str, breaking: bool) -> None:
    verdict = _compare(_parse_type(old), _parse_type(new))
    assert verdict is not None and verdict[0] is breaking


def test_same_type_spelled_differently_is_no_change() -> None:
    for a, b in [("BIGINT", "int64"), ("VARCHAR", "text"), ("DOUBLE", "float64"), ("bigint", "long"), ("INT", "int4")]:
        assert _compare(_parse_type(a), _parse_type(b)) is None, (a, b)
    diff = schema_diff({"a": "BIGINT", "b": "string"}, pa.schema([("a", pa.int64()), ("b", pa.string())]))
    assert diff.changes == () and not diff.breaking
    assert diff.summary().startswith("No schema changes") and "2 columns" in diff.summary()


def test_sources_with_every_kind_of_change(tmp_path: Path) -> None:
    old = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "cust_id": [10, 20, 30],
            "amount": pa.array([1.0, 2.5, 3.0], pa.float32()),
            "code": ["1", "2", "3"],
            "legacy": [True, False, True],
            "n": [1, 2, 3],
        }
    )
    new = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "customer_id": [10, 20, 30],
            "amount": [1.0, 2.5, 3.0],
            "code": [1, 2, 3],
            "n": [1, None, 3],
            "channel": ["web", None, "app"],
        }
    )
    pq.write_table(old, tmp_path / "v1.parquet")
    diff = schema_diff(tmp_path / "v1.parquet", new)
    assert _kinds(diff) == {
        "id": ("retyped", False),
        "customer_id": ("renamed", True),
        "amount": ("retyped", False),
        "code": ("retyped", True),
        "legacy": ("removed", True),
        "n": ("nullability", False),
        "channel": ("added", False),
    }
    renamed = diff.of_kind("renamed")[0]
    assert renamed.old_column == "cust_id" and "suggestion" in renamed.detail and "identical" in renamed.detail
    assert diff.breaking and len(diff.breaking_changes) == 3
    text = diff.summary()
    assert "3 of them breaking" in text and "'legacy' was removed" in text and "VARCHAR to BIGINT" in text
    assert diff.to_dict()["breaking"] is True and diff.to_dict()["changes"][0]["kind"] == "retyped"
    assert "<table>" in diff._repr_html_()


def test_rename_by_data_alone_and_no_rename_for_unrelated_columns() -> None:
    old = pd.DataFrame({"k": [1, 2, 3], "x": [5.0, 6.0, 7.0]})
    new = pd.DataFrame({"k": [1, 2, 3], "revenue_eur": [5.0, 6.0, 7.0]})
    diff = schema_diff(old, new)
    assert _kinds(diff) == {"revenue_eur": ("renamed", True)}
    assert "identical" in diff.changes[0].detail
    other = pd.DataFrame({"k": [1, 2, 3], "revenue_eur": [9.0, 6.0, 7.0]})
    assert _kinds(schema_diff(old, other)) == {"x": ("removed", True), "revenue_eur": ("added", False)}
    assert _kinds(schema_diff(old, new, compare_data=False)) == {
        "x": ("removed", True),
        "revenue_eur": ("added", False),
    }


def test_rename_by_name_for_schemas_and_case_changes() -> None:
    diff = schema_diff({"CustomerId": "BIGINT", "email": "VARCHAR"}, {"customer_id": "bigint", "email": "text"})
    (change,) = diff.changes
    assert change == SchemaChange(
        "renamed", "customer_id", "BIGINT", "bigint", True, change.detail, old_column="CustomerId"
    )
    assert "case or separators" in change.detail
    # a similar name but another type is not a rename
    diff = schema_diff({"amount": "DOUBLE"}, {"amount_txt": "VARCHAR"})
    assert {c.kind for c in diff.changes} == {"removed", "added"}


def test_declared_nullability() -> None:
    old = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("b", pa.string())])
    new = pa.schema([pa.field("id", pa.int64()), pa.field("b", pa.string(), nullable=False)])
    kinds = _kinds(schema_diff(old, new))
    assert kinds == {"id": ("nullability", True), "b": ("nullability", False)}
    diff = schema_diff({"id": "BIGINT"}, {"id": "BIGINT", "c": "VARCHAR NOT NULL", "d": "VARCHAR NULL"})
    assert _kinds(diff) == {"c": ("added", True), "d": ("added", False)}
    assert "writers must now supply it" in diff.summary()


def test_reordered_columns_are_reported_as_not_breaking() -> None:
    diff = schema_diff({"a": "INT", "b": "INT"}, {"b": "INT", "a": "INT"})
    assert _kinds(diff) == {"*": ("reordered", False)} and not diff.breaking


def test_edge_cases(tmp_path: Path) -> None:
    empty_old = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    empty_new = pa.table({"a": pa.array([], pa.int64()), "c": pa.array([], pa.string())})
    diff = schema_diff(empty_old, empty_new)  # no data: no rename by data, names too different
    assert _kinds(diff) == {"b": ("removed", True), "c": ("added", False)}
    nulls = pa.table({"a": pa.array([None, None], pa.null())})
    assert _kinds(schema_diff(nulls, pa.table({"a": [1, 2]}))) == {"a": ("retyped", False)}
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"PAR1 not parquet PAR1")
    with pytest.raises(InvalidInputError):
        schema_diff(corrupt, empty_new)
    with pytest.raises(InvalidInputError):
        schema_diff({"a": ""}, {"a": "INT"})
    with pytest.raises(InvalidInputError):
        schema_diff(tmp_path / "missing.parquet", empty_new)


def test_tables_on_any_engine(backend_engine: Engine) -> None:
    backend_engine.register("sd_old", pa.table({"id": [1, 2, 3], "score": [0.5, 0.7, 0.9], "tag": ["a", "b", None]}))
    backend_engine.register("sd_new", pa.table({"id": [1, 2, 3], "score_v2": [0.5, 0.7, 0.9], "tag": ["a", "b", "c"]}))
    diff = schema_diff("sd_old", "sd_new", engine=backend_engine)
    assert _kinds(diff) == {"score_v2": ("renamed", True)}
    assert "identical" in diff.changes[0].detail
    mixed = schema_diff(
        "sd_old", {"id": "BIGINT", "score": "DOUBLE", "tag": "VARCHAR", "extra": "DATE"}, engine=backend_engine
    )
    assert _kinds(mixed) == {"extra": ("added", False)}
