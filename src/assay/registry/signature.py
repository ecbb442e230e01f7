"""Model signatures: the columns (and their kinds) a model takes and returns.

A signature is inferred once from an input example and stored with the model version;
at prediction time :meth:`Signature.validate` checks incoming data against it, so a
missing column or a wrong type fails with a message that names the column instead of a
cryptic error from deep inside the model.

Dtypes are normalised to six kinds, so a signature does not depend on the exact numpy or
pandas dtype used at training time:

================  ===================================================================
kind              pandas / numpy dtypes
================  ===================================================================
``"integer"``     ``int8..int64``, ``uint8..uint64``, nullable ``Int*`` / ``UInt*``
``"float"``       ``float16..float64``, nullable ``Float*``
``"boolean"``     ``bool``, nullable ``boolean``
``"string"``      ``str`` (pandas 3 default), ``string``, ``object`` holding strings
``"category"``    ``category``
``"datetime"``    ``datetime64[*]``, ``datetime64[*, tz]``, ``object`` holding timestamps
================  ===================================================================

``object`` columns are classified from their values (``pandas.api.types.infer_dtype``);
mixed objects, timedeltas, periods, intervals and complex numbers have no kind and are
rejected. Numpy 2-D arrays get column names ``f0, f1, ...``.

Example::

    sig = infer_signature(train_df[["tenure_months", "plan"]])
    sig.validate(request_df)  # same columns, signature order, safe conversions applied
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from assay.errors import InvalidInputError, SchemaMismatchError

__all__ = ["KINDS", "ColumnSpec", "Signature", "column_kind", "infer_signature"]

KINDS: tuple[str, ...] = ("integer", "float", "boolean", "string", "category", "datetime")

_STRING_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object
# Dtype a column gets when it has no values (0 rows, or only missing values): nullable where needed.
_MISSING_DTYPE: dict[str, Any] = {
    "integer": "Int64",
    "float": "float64",
    "boolean": "boolean",
    "string": _STRING_DTYPE,
    "category": "category",
    "datetime": "datetime64[ns]",
}
_INFERRED_KIND = {
    "string": "string",
    "integer": "integer",
    "floating": "float",
    "mixed-integer-float": "float",
    "boolean": "boolean",
    "datetime": "datetime",
    "datetime64": "datetime",
}
_MAX_LISTED = 20


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a signature: its name and normalised kind (one of :data:`KINDS`).

    Example::

        ColumnSpec("plan", "string")
    """

    name: str
    dtype: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError(f"A column name must be a non-empty string. Got {self.name!r}.")
        if self.dtype not in KINDS:
            raise InvalidInputError(
                f"The 'dtype' of column '{self.name}' must be one of {list(KINDS)}. Got {self.dtype!r}."
            )

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        try:
            return cls(name=data["name"], dtype=data["dtype"])
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"A column spec needs 'name' and 'dtype' keys. Got {data!r}.") from exc


def column_kind(values: pd.Series) -> str | None:
    """Normalised kind of a column, or ``None`` if it has none (mixed objects, timedeltas, ...).

    ``object`` columns are classified from their non-missing values; an ``object`` column
    with no non-missing value returns ``None`` too (nothing to infer from).

    Example::

        column_kind(pd.Series([1, 2]))  # 'integer'
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_object_dtype(dtype) or (isinstance(dtype, np.dtype) and dtype.kind == "U"):
        return _INFERRED_KIND.get(infer_dtype(values, skipna=True))
    return None


@dataclass(frozen=True)
class Signature:
    """The input columns a model needs (in order) and, optionally, the outputs it returns.

    Example::

        sig = Signature(inputs=(ColumnSpec("age", "integer"), ColumnSpec("plan", "string")))
        sig.validate(pd.DataFrame({"plan": ["pro"], "age": [41], "extra": [0]}))  # age, plan
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))
        for part, specs in (("inputs", self.inputs), ("outputs", self.outputs or ())):
            names = [spec.name for spec in specs]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise InvalidInputError(f"Signature {part} repeat column names {duplicates}.")

    @property
    def input_names(self) -> list[str]:
        """Input column names in signature order."""
        return [spec.name for spec in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; :meth:`from_dict` reads it back."""
        return {
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": None if self.outputs is None else [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Rebuild a signature from :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or "inputs" not in data:
            raise InvalidInputError(f"A signature dict needs an 'inputs' list. Got {data!r}.")
        outputs = data.get("outputs")
        return cls(
            inputs=tuple(ColumnSpec.from_dict(d) for d in data["inputs"]),
            outputs=None if outputs is None else tuple(ColumnSpec.from_dict(d) for d in outputs),
        )

    def summary(self) -> str:
        """Plain-text description, one column per line."""
        lines = [f"Signature: {len(self.inputs)} input column(s)"]
        lines += [f"  {spec.name}: {spec.dtype}" for spec in self.inputs]
        if self.outputs is None:
            lines.append("Outputs: not recorded")
        else:
            lines.append(f"Outputs: {len(self.outputs)} column(s)")
            lines += [f"  {spec.name}: {spec.dtype}" for spec in self.outputs]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def rows(specs: Sequence[ColumnSpec], part: str) -> str:
            return "".join(f"<tr><td>{part}</td><td>{html.escape(s.name)}</td><td>{s.dtype}</td></tr>" for s in specs)

        body = rows(self.inputs, "input") + rows(self.outputs or (), "output")
        return f"<table><tr><th></th><th>column</th><th>kind</th></tr>{body}</table>"

    def validate(self, data: Any) -> pd.DataFrame:
        """Check ``data`` against the inputs; return a new frame with exactly those columns, in order.

        Accepts a DataFrame, a dict of lists, a dict of scalars (one row), a list of dicts, or a
        2-D numpy array / list of lists as wide as the signature (columns taken in signature order).
        Extra columns are dropped. Conversions that lose nothing are applied: integer → float,
        float holding only whole numbers → integer, string ↔ category, ISO strings → datetime, and
        columns with no values (0 rows or all missing) take the expected kind.

        Raises :class:`~assay.errors.SchemaMismatchError` (with ``.column``) for a missing column
        or an incompatible dtype, :class:`~assay.errors.InvalidInputError` for unusable input.

        Example::

            sig.validate({"age": [41, 37], "plan": ["pro", "free"]})
        """
        frame = _to_frame(data, self.input_names)
        present = set(frame.columns)
        missing = [name for name in self.input_names if name not in present]
        if missing:
            more = f" (and {len(missing) - 1} more: {missing[1:]})" if len(missing) > 1 else ""
            raise SchemaMismatchError(
                f"input is missing column '{missing[0]}'{more} required by the model signature; "
                f"got columns {_listed(list(frame.columns))}",
                column=missing[0],
            )
        out = frame.loc[:, self.input_names].copy()
        for spec in self.inputs:
            converted = _coerce(out[spec.name], spec)
            if converted is not out[spec.name]:
                out[spec.name] = converted
        return out


def infer_signature(input_example: Any, output_example: Any = None) -> Signature:
    """Infer a signature from example inputs (and optionally outputs).

    ``input_example`` may be a DataFrame, a dict of lists, or a 2-D numpy array (columns
    named ``f0, f1, ...``). ``output_example`` may also be a Series or a 1-D array (one
    column named after the Series, else ``prediction``).

    Example::

        sig = infer_signature(X_train, model.predict(X_train[:5]))
    """
    inputs = _specs(_example_frame(input_example, "input_example"), "input_example")
    outputs = None
    if output_example is not None:
        outputs = _specs(_example_frame(output_example, "output_example", allow_1d=True), "output_example")
    return Signature(inputs=inputs, outputs=outputs)


# -- helpers -------------------------------------------------------------------------------------


def _listed(names: list[Any]) -> str:
    if len(names) <= _MAX_LISTED:
        return repr([str(n) for n in names])
    head = ", ".join(repr(str(n)) for n in names[:_MAX_LISTED])
    return f"[{head}, ... ({len(names) - _MAX_LISTED} more)]"


def _string_columns(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """Return ``frame`` with string column names, or raise on duplicates."""
    names = [str(c) for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"{what} has duplicate column names {duplicates}; make them unique.")
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


def _example_frame(example: Any, what: str, *, allow_1d: bool = False) -> pd.DataFrame:
    if isinstance(example, pd.DataFrame):
        return _string_columns(example, what)
    if isinstance(example, pd.Series):
        if not allow_1d:
            raise InvalidInputError(f"{what} must be a DataFrame, dict of lists or 2-D array, not a Series.")
        return example.to_frame(name=str(example.name) if example.name is not None else "prediction")
    if isinstance(example, Mapping):
        try:
            return _string_columns(pd.DataFrame(dict(example)), what)
        except ValueError as exc:
            raise InvalidInputError(f"{what} dict could not be read as columns: {exc}") from exc
    if isinstance(example, np.ndarray | list | tuple):
        array = np.asarray(example)
        if array.ndim == 1 and allow_1d:
            return pd.DataFrame({"prediction": array})
        if array.ndim == 2:
            return pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])
        raise InvalidInputError(f"{what} must be 2-D (rows × columns); got an array of shape {array.shape}.")
    raise InvalidInputError(
        f"{what} must be a pandas DataFrame, a dict of lists or a numpy array; got {type(example).__name__}."
    )


def _specs(frame: pd.DataFrame, what: str) -> tuple[ColumnSpec, ...]:
    specs = []
    for name in frame.columns:
        kind = column_kind(frame[name])
        if kind is None:
            raise InvalidInputError(
                f"Cannot infer a kind for column '{name}' of {what} (dtype {_describe(frame[name])}); "
                "cast it to one of integer, float, boolean, string, category or datetime first."
            )
        specs.append(ColumnSpec(name, kind))
    return tuple(specs)


def _is_scalar_record(data: Mapping[Any, Any]) -> bool:
    return len(data) > 0 and all(np.ndim(v) == 0 for v in data.values())


def _to_frame(data: Any, names: list[str]) -> pd.DataFrame:
    """Turn prediction input into a DataFrame when that is unambiguous."""
    if isinstance(data, pd.DataFrame):
        return _string_columns(data, "input")
    if isinstance(data, pd.Series):
        raise InvalidInputError(
            "input is a Series, which is ambiguous (one row or one column?); pass a DataFrame, "
            "e.g. series.to_frame().T for one row."
        )
    if isinstance(data, Mapping):
        try:
            frame = pd.DataFrame([dict(data)]) if _is_scalar_record(data) else pd.DataFrame(dict(data))
        except ValueError as exc:
            raise InvalidInputError(f"input dict could not be read as columns of equal length: {exc}") from exc
        return _string_columns(frame, "input")
    if isinstance(data, list | tuple) and data and all(isinstance(row, Mapping) for row in data):
        return _string_columns(pd.DataFrame(list(data)), "input")
    if isinstance(data, np.ndarray | list | tuple):
        rows = data if isinstance(data, np.ndarray) else list(data)
        if isinstance(rows, list) and not rows:
            return pd.DataFrame({name: [] for name in names})
        array = np.asarray(rows, dtype=object) if isinstance(rows, list) else rows
        if array.ndim != 2:
            hint = " (for one row use array.reshape(1, -1))" if array.ndim == 1 else ""
            raise InvalidInputError(f"array input must be 2-D (rows × columns); got shape {array.shape}{hint}.")
        if array.shape[1] != len(names):
            raise InvalidInputError(
                f"array input has {array.shape[1]} columns but the model signature has {len(names)} "
                f"({_listed(names)}); pass a DataFrame with named columns instead."
            )
        if isinstance(rows, list):  # list of lists: build column by column so each gets its own dtype
            return pd.DataFrame({name: list(array[:, i]) for i, name in enumerate(names)})
        return pd.DataFrame(array, columns=names)
    raise InvalidInputError(
        f"input must be a DataFrame, a dict, a list of dicts or a 2-D array; got {type(data).__name__}."
    )


def _describe(values: pd.Series) -> str:
    if pd.api.types.is_object_dtype(values.dtype):
        return f"object (holding {infer_dtype(values, skipna=True)} values)"
    return str(values.dtype)


def _mismatch(values: pd.Series, spec: ColumnSpec, hint: str = "") -> SchemaMismatchError:
    message = f"column '{spec.name}' has dtype {_describe(values)} but the model expects {spec.dtype}"
    return SchemaMismatchError(message + (f"; {hint}" if hint else ""), column=spec.name)


def _coerce(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Return ``values`` (same object if already fine) in the kind ``spec`` expects, or raise."""
    expected = spec.dtype
    missing = values.isna()
    if len(values) == 0 or bool(missing.all()):
        if column_kind(values) == expected:
            return values
        return pd.Series([None] * len(values), index=values.index, dtype=object).astype(_MISSING_DTYPE[expected])
    actual = column_kind(values)
    if actual == expected:
        return values
    if expected == "float" and actual == "integer":
        return values.astype("float64")
    if expected == "integer" and actual == "float":
        present = values[~missing].to_numpy(dtype="float64")
        if not np.all(np.isfinite(present) & (present == np.round(present))):
            raise _mismatch(values, spec, "it holds non-whole numbers")
        if missing.any():
            raise _mismatch(
                values,
                spec,
                f"it holds {int(missing.sum())} missing value(s) (NaN), and pandas stores an integer "
                "column with missing values as float64. Fill or drop the missing values, or cast "
                f"with df['{spec.name}'].astype('Int64') to keep them as <NA>.",
            )
        return values.astype("int64")
    if expected == "string" and actual == "category":
        if column_kind(pd.Series(values.cat.categories)) != "string":
            raise _mismatch(values, spec, "its categories are not strings")
        return values.astype(_STRING_DTYPE)
    if expected == "category" and actual == "string":
        return values.astype("category")
    if expected == "datetime" and actual == "string":
        try:
            return pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise _mismatch(values, spec, f"its strings could not be parsed as dates ({exc})") from exc
    hint = "its values have no single kind; cast the column before predicting" if actual is None else ""
    raise _mismatch(values, spec, hint)
