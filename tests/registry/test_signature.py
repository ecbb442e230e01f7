"""Signatures: inference from examples, JSON round trip, validation of prediction input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assay.errors import InvalidInputError, SchemaMismatchError
from assay.registry.signature import ColumnSpec, Signature, column_kind, infer_signature


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure_months": [3, 40, 12],
            "monthly_spend": [9.5, 120.0, 35.25],
            "plan": ["free", "pro", "team"],
            "is_annual": [False, True, True],
            "region": pd.Categorical(["eu", "us", "eu"]),
            "signup": pd.to_datetime(["2024-01-02", "2023-05-06", "2024-07-08"]),
        }
    )


@pytest.fixture
def sig(frame: pd.DataFrame) -> Signature:
    return infer_signature(frame)


def test_infer_kinds_from_dataframe(sig: Signature) -> None:
    assert [(s.name, s.dtype) for s in sig.inputs] == [
        ("tenure_months", "integer"),
        ("monthly_spend", "float"),
        ("plan", "string"),
        ("is_annual", "boolean"),
        ("region", "category"),
        ("signup", "datetime"),
    ]
    assert sig.outputs is None


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pd.Series([1, 2], dtype="int32"), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([1, 2], dtype="uint8"), "integer"),
        (pd.Series([1.5, None], dtype="Float64"), "float"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series(["a", None], dtype="string"), "string"),
        (pd.Series(["a", None], dtype=object), "string"),
        (pd.Series([1, 2], dtype=object), "integer"),
        (pd.Series([pd.Timestamp("2024-01-01", tz="UTC")]), "datetime"),
        (pd.Series([1, "a"], dtype=object), None),
        (pd.Series(pd.to_timedelta([1], unit="D")), None),
    ],
)
def test_column_kind(values: pd.Series, kind: str | None) -> None:
    assert column_kind(values) == kind


def test_infer_from_numpy_dict_and_outputs() -> None:
    sig = infer_signature(np.zeros((4, 2)), np.array([0, 1, 1, 0]))
    assert sig.input_names == ["f0", "f1"]
    assert sig.outputs == (ColumnSpec("prediction", "integer"),)
    sig = infer_signature({"a": [1, 2], "b": ["x", "y"]}, pd.Series([0.1, 0.2], name="score"))
    assert [s.dtype for s in sig.inputs] == ["integer", "string"]
    assert sig.outputs == (ColumnSpec("score", "float"),)
    assert infer_signature(np.zeros((3, 2)), np.zeros((3, 2))).outputs[1].name == "f1"


def test_infer_rejects_uninferable_columns() -> None:
    with pytest.raises(InvalidInputError, match="'mixed'"):
        infer_signature(pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)}))
    with pytest.raises(InvalidInputError, match="2-D"):
        infer_signature(np.zeros(3))
    with pytest.raises(InvalidInputError):
        infer_signature("not data")


def test_dict_round_trip_is_json_safe(sig: Signature) -> None:
    data = json.loads(json.dumps(sig.to_dict()))
    assert Signature.from_dict(data) == sig
    with_outputs = infer_signature(np.zeros((2, 1)), np.zeros(2))
    assert Signature.from_dict(json.loads(json.dumps(with_outputs.to_dict()))) == with_outputs


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="dtype"):
        ColumnSpec("a", "float64")
    with pytest.raises(InvalidInputError, match="repeat"):
        Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("a", "integer")))
    with pytest.raises(InvalidInputError):
        Signature.from_dict({"outputs": []})


def test_summary_and_html(sig: Signature) -> None:
    text = sig.summary()
    assert "6 input column(s)" in text and "plan: string" in text and "not recorded" in text
    assert "<table>" in sig._repr_html_()


def test_validate_fixes_order_and_drops_extra_columns(frame: pd.DataFrame, sig: Signature) -> None:
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1)
    out = sig.validate(shuffled)
    assert list(out.columns) == sig.input_names
    pd.testing.assert_frame_equal(out, frame)
    assert "extra" in shuffled.columns  # input not mutated


def test_missing_column_is_named(frame: pd.DataFrame, sig: Signature) -> None:
    with pytest.raises(SchemaMismatchError) as info:
        sig.validate(frame.drop(columns=["tenure_months"]))
    assert info.value.column == "tenure_months"
    message = str(info.value)
    assert "missing column 'tenure_months' required by the model signature" in message
    assert "got columns ['monthly_spend'" in message


def test_wrong_dtype_is_named(frame: pd.DataFrame, sig: Signature) -> None:
    with pytest.raises(SchemaMismatchError) as info:
        sig.validate(frame.assign(plan=[1.5, 2.5, 3.5]))
    assert info.value.column == "plan"
    assert "column 'plan' has dtype float64 but the model expects string" in str(info.value)
    with pytest.raises(SchemaMismatchError, match=r"'tenure_months'.*expects integer"):
        sig.validate(frame.assign(tenure_months=[True, False, True]))  # bool is not widened to integer
    with pytest.raises(SchemaMismatchError, match="non-whole"):
        sig.validate(frame.assign(tenure_months=[1.5, 2.0, 3.0]))


def test_integer_to_float_widening(frame: pd.DataFrame, sig: Signature) -> None:
    out = sig.validate(frame.assign(monthly_spend=[10, 20, 30]))
    assert out["monthly_spend"].dtype == np.float64
    assert out["monthly_spend"].tolist() == [10.0, 20.0, 30.0]


def test_whole_floats_become_integers(frame: pd.DataFrame, sig: Signature) -> None:
    out = sig.validate(frame.assign(tenure_months=[3.0, 40.0, 12.0]))
    assert out["tenure_months"].dtype == np.int64


def test_integer_column_upcast_by_nan_is_explained(frame: pd.DataFrame, sig: Signature) -> None:
    with pytest.raises(SchemaMismatchError) as info:
        sig.validate(frame.assign(tenure_months=[3, None, 12]))
    message = str(info.value)
    assert info.value.column == "tenure_months"
    assert "1 missing value(s)" in message and "Int64" in message
    nullable = sig.validate(frame.assign(tenure_months=pd.array([3, None, 12], dtype="Int64")))
    assert nullable["tenure_months"].isna().sum() == 1


def test_string_category_and_datetime_conversions(frame: pd.DataFrame, sig: Signature) -> None:
    out = sig.validate(
        frame.assign(
            plan=pd.Categorical(frame["plan"]),
            region=frame["region"].astype(str),
            signup=["2024-01-02", "2023-05-06", "2024-07-08"],
        )
    )
    assert column_kind(out["plan"]) == "string"
    assert isinstance(out["region"].dtype, pd.CategoricalDtype)
    assert column_kind(out["signup"]) == "datetime"
    with pytest.raises(SchemaMismatchError, match="'signup'"):
        sig.validate(frame.assign(signup=["soon", "later", "never"]))


def test_all_missing_column_takes_expected_kind(frame: pd.DataFrame, sig: Signature) -> None:
    out = sig.validate(frame.assign(tenure_months=None, plan=None))
    assert out["tenure_months"].isna().all() and column_kind(out["tenure_months"]) == "integer"
    assert column_kind(out["plan"]) == "string"


def test_empty_frame_is_allowed(frame: pd.DataFrame, sig: Signature) -> None:
    out = sig.validate(frame.iloc[:0])
    assert len(out) == 0 and list(out.columns) == sig.input_names
    out = sig.validate({name: [] for name in sig.input_names})
    assert len(out) == 0 and [column_kind(out[c]) for c in out.columns] == [s.dtype for s in sig.inputs]


def test_non_dataframe_inputs_are_converted() -> None:
    sig = Signature(inputs=(ColumnSpec("age", "integer"), ColumnSpec("plan", "string")))
    expected = pd.DataFrame({"age": [41, 37], "plan": ["pro", "free"]})
    for data in (
        {"plan": ["pro", "free"], "age": [41, 37]},
        [{"plan": "pro", "age": 41}, {"age": 37, "plan": "free"}],
        [[41, "pro"], [37, "free"]],
    ):
        pd.testing.assert_frame_equal(sig.validate(data), expected)
    one = sig.validate({"age": 41, "plan": "pro"})
    assert one.to_dict("list") == {"age": [41], "plan": ["pro"]}
    numeric = Signature(inputs=(ColumnSpec("f0", "float"), ColumnSpec("f1", "float")))
    assert numeric.validate(np.ones((3, 2))).shape == (3, 2)


def test_ambiguous_inputs_are_rejected() -> None:
    sig = Signature(inputs=(ColumnSpec("f0", "float"), ColumnSpec("f1", "float")))
    with pytest.raises(InvalidInputError, match="3 columns"):
        sig.validate(np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="reshape"):
        sig.validate(np.ones(2))
    with pytest.raises(InvalidInputError, match="Series"):
        sig.validate(pd.Series([1.0, 2.0], index=["f0", "f1"]))
    with pytest.raises(InvalidInputError):
        sig.validate("f0=1")
    with pytest.raises(InvalidInputError, match="equal length"):
        sig.validate({"f0": [1.0, 2.0], "f1": [1.0]})
