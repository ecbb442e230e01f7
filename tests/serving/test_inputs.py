"""Request bodies to model inputs: records, columns, single records; every refusal names field and row."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from assay.errors import InvalidInputError, SchemaMismatchError
from assay.registry.signature import ColumnSpec, Signature
from assay.serving._inputs import InputSchema, RequestError, parse_json

NUMERIC = Signature((ColumnSpec("age", "integer"), ColumnSpec("spend", "float")))
MIXED = Signature((ColumnSpec("age", "integer"), ColumnSpec("plan", "string"), ColumnSpec("vip", "boolean")))


def test_records_columns_and_single_record_give_the_same_matrix() -> None:
    schema = InputSchema(NUMERIC)
    records = schema.batch([{"age": 30, "spend": 1.5, "extra": "ignored"}, {"spend": 2, "age": 41.0}])
    columns = schema.batch({"age": [30, 41], "spend": [1.5, 2]})
    np.testing.assert_array_equal(records.matrix, [[30.0, 1.5], [41.0, 2.0]])
    np.testing.assert_array_equal(columns.matrix, records.matrix)
    single = schema.batch({"age": 30, "spend": 1.5})
    assert single.n == 1 and single.matrix.tolist() == [[30.0, 1.5]]


@pytest.mark.parametrize(
    ("payload", "field", "row", "words"),
    [
        ([{"age": 1, "spend": 1.0}, {"age": 2}], "spend", 1, "missing field 'spend'"),
        ([{"age": "old", "spend": 1.0}], "age", 0, 'a string ("old") but the model expects an integer'),
        ([{"age": 1.5, "spend": 1.0}], "age", 0, "expects an integer"),
        ([{"age": None, "spend": 1.0}], "age", 0, "is null"),
        ([{"age": True, "spend": 1.0}], "age", 0, "a boolean"),
        ([{"age": 1, "spend": [1.0]}], "spend", 0, "a list"),
        ([{"age": 1, "spend": 1.0}, 7], None, 1, "row 1 is an integer, not an object"),
        ({"age": [1, 2], "spend": [1.0]}, "spend", None, "has 1 values but 'age' has 2"),
        ({"age": [1], "spend": 2.0}, "spend", None, "mixes lists and single values"),
        ({"age": [1], "nope": [2.0]}, "spend", None, "missing column 'spend'"),
        ([{"age": 10**400, "spend": 1.0}], "age", 0, "outside the range"),
    ],
)
def test_refusals_name_the_field_and_row(payload: object, field: str | None, row: int | None, words: str) -> None:
    with pytest.raises(RequestError, match=re.escape(words)) as info:
        InputSchema(NUMERIC).batch(payload)
    assert info.value.status == 422
    assert (info.value.column, info.value.row) == (field, row)
    assert isinstance(info.value, SchemaMismatchError | InvalidInputError)


def test_missing_values_are_nan_for_floats_unless_refused() -> None:
    batch = InputSchema(NUMERIC).batch([{"age": 3, "spend": None}])
    assert math.isnan(batch.matrix[0, 1])
    with pytest.raises(RequestError, match="not allowed by this server"):
        InputSchema(NUMERIC, allow_missing=False).batch([{"age": 3, "spend": None}])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "body is empty"),
        (b"  \n", 400, "body is empty"),
        (b'[{"age": 1,', 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b'[{"age": NaN}]', 422, "NaN, which is not valid JSON"),
        (b'[{"age": -Infinity}]', 422, "-Infinity"),
    ],
)
def test_bad_bodies(body: bytes, status: int, words: str) -> None:
    with pytest.raises(RequestError, match=words) as info:
        parse_json(body)
    assert info.value.status == status


@pytest.mark.parametrize("payload", [[], {}, "text", 3, None, {"age": []}])
def test_empty_or_shapeless_payloads(payload: object) -> None:
    with pytest.raises(RequestError) as info:
        InputSchema(NUMERIC).batch(payload)
    assert info.value.status == 422


def test_mixed_signature_keeps_columns_and_checks_kinds() -> None:
    schema = InputSchema(MIXED, key_field="customer")
    batch = schema.batch([{"age": 3, "plan": "pro", "vip": False, "customer": "c1"}])
    assert batch.matrix is None and batch.columns == {"age": [3], "plan": ["pro"], "vip": [False]}
    assert batch.keys == ["c1"]
    assert list(batch.frame().columns) == ["age", "plan", "vip"]
    with pytest.raises(RequestError, match="row 0 field 'vip' is a string") as info:
        schema.batch([{"age": 3, "plan": "pro", "vip": "yes"}])
    assert info.value.column == "vip"
    with pytest.raises(RequestError, match="field 'plan' is an integer"):
        schema.batch({"age": [3], "plan": [4], "vip": [True]})


def test_no_signature_passes_records_through() -> None:
    batch = InputSchema(None).batch({"a": [1, 2], "b": ["x", "y"]})
    assert batch.n == 2 and batch.records == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    with pytest.raises(RequestError, match="different lengths"):
        InputSchema(None).batch({"a": [1, 2], "b": ["x"]})
