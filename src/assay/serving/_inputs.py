"""Request bodies to model inputs: JSON records or columns, checked field by field against the signature.

The checks run in plain Python over the parsed JSON (no DataFrame per request) so a single row costs a few
microseconds; an all-numeric signature goes straight to a float64 matrix. Every refusal is a
:class:`RequestError` that names the field and the row (0-based) and says what to send instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import SchemaMismatchError
from assay.registry.signature import Signature

__all__ = ["Batch", "InputSchema", "RequestError", "parse_json"]

_NUMERIC = frozenset({int, float})
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
_JSON_TYPES.update({int: "an integer", float: "a number"})
_EXAMPLE = 'JSON records [{"field": value, ...}] or columns {"field": [values, ...]}'


class RequestError(SchemaMismatchError):
    """A request the server refuses: ``status`` is the HTTP code, ``column``/``row`` the offending place."""

    def __init__(self, message: str, *, status: int = 422, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message, column=column)
        self.status = status
        self.row = row

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``message`` (the message), ``error`` (the type), ``field`` and ``row``."""
        return {"message": str(self), "error": type(self).__name__, "field": self.column, "row": self.row}


def _constant(name: str) -> Any:
    raise RequestError(f"the body holds {name}, which is not valid JSON; send null for a missing value")


_DECODER = json.JSONDecoder(parse_constant=_constant)


def parse_json(body: bytes) -> Any:
    """The parsed body, or a 400 :class:`RequestError` for an empty or malformed one."""
    if not body.strip():
        raise RequestError(f"the request body is empty; send {_EXAMPLE}", status=400)
    try:
        return _DECODER.decode(body.decode("utf-8") if isinstance(body, bytes | bytearray) else body)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the request body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); send {_EXAMPLE}",
            status=400,
        ) from None
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text; send UTF-8 encoded JSON", status=400) from None
    except RecursionError:
        raise RequestError("the request body is nested too deeply", status=400) from None


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


@dataclass
class Batch:
    """Validated input rows: a float64 ``matrix`` (all-numeric signatures) or ``columns`` (name -> values)."""

    n: int
    names: list[str]
    matrix: np.ndarray | None = None
    columns: dict[str, list[Any]] | None = None
    records: list[Any] | None = None  # as sent, for models without a signature
    keys: list[Any] | None = None  # key_field value per row, when configured and present

    def frame(self) -> Any:
        """The rows as the registry Predictor takes them (a DataFrame, or the records as sent)."""
        if self.matrix is not None:
            return pd.DataFrame(self.matrix, columns=self.names)
        if self.columns is not None:
            return pd.DataFrame(self.columns)
        return self.records


class InputSchema:
    """Per-field checks derived from a model signature (``None``: no signature, inputs passed as sent)."""

    def __init__(self, signature: Signature | None, *, allow_missing: bool = True, key_field: str | None = None):
        self.signature = signature
        self.names = signature.input_names if signature is not None else []
        self.kinds = [spec.dtype for spec in signature.inputs] if signature is not None else []
        self.numeric = signature is not None and all(k in ("integer", "float") for k in self.kinds)
        self._integers = [j for j, k in enumerate(self.kinds) if k == "integer"]  # whole numbers only
        self.allow_missing = allow_missing
        self.key_field = key_field

    # -- entry point ------------------------------------------------------------------------------------------

    def batch(self, payload: Any) -> Batch:
        """Validate a parsed body (records, columns, or one record) into a :class:`Batch`."""
        if isinstance(payload, list):
            if not payload:
                raise RequestError(f"the body is an empty list; send at least one record, e.g. {_EXAMPLE}")
            return self._records(payload)
        if isinstance(payload, dict):
            if not payload:
                raise RequestError(f"the body is an empty object; send {_EXAMPLE}")
            lists = [isinstance(v, list) for v in payload.values()]
            if all(lists):
                return self._columns(payload)
            if not any(lists):
                return self._records([payload])
            field = next(k for k, is_list in zip(payload, lists, strict=True) if not is_list)
            raise RequestError(
                f"the body mixes lists and single values (field '{field}' is {_type_name(payload[field])}); send "
                "either columns (every field a list) or records",
                column=field,
            )
        raise RequestError(f"the body is {_type_name(payload)}; send {_EXAMPLE}")

    def warmup_batch(self) -> Batch:
        """One plausible row (zeros, empty strings, False, 2000-01-01) to warm a model up before it takes traffic."""
        sample = {"integer": 0, "float": 0.0, "boolean": False, "string": "", "category": "", "datetime": "2000-01-01"}
        return self._records([{n: sample[k] for n, k in zip(self.names, self.kinds, strict=True)}])

    # -- records ------------------------------------------------------------------------------------------

    def _records(self, records: list[Any]) -> Batch:
        keys = self._record_keys(records)
        if self.signature is None:
            return Batch(len(records), [], records=records, keys=keys)
        names = self.names
        rows: list[list[Any]] = []
        append = rows.append
        for i, rec in enumerate(records):
            if type(rec) is not dict:
                raise RequestError(f"row {i} is {_type_name(rec)}, not an object of fields", row=i)
            try:
                vals = [rec[n] for n in names]
            except KeyError:
                missing = next(n for n in names if n not in rec)
                raise RequestError(
                    f"row {i} is missing field '{missing}' required by the model signature", column=missing, row=i
                ) from None
            if not self.numeric or not set(map(type, vals)) <= _NUMERIC or self._integers:
                self._check_values(vals, i)
            append(vals)
        if self.numeric:
            return Batch(len(rows), names, matrix=self._matrix(rows), keys=keys)
        columns = {n: [row[j] for row in rows] for j, n in enumerate(names)}
        return Batch(len(rows), names, columns=columns, keys=keys)

    def _record_keys(self, records: list[Any]) -> list[Any] | None:
        kf = self.key_field
        if kf is None or not records or type(records[0]) is not dict or kf not in records[0]:
            return None
        return [rec.get(kf) if type(rec) is dict else None for rec in records]

    # -- columns ------------------------------------------------------------------------------------------

    def _columns(self, payload: dict[str, list[Any]]) -> Batch:
        keys = payload.get(self.key_field) if self.key_field else None
        if self.signature is None:
            lengths = {len(v) for v in payload.values()}
            if len(lengths) != 1:
                raise RequestError("the columns have different lengths; send one value per row in every column")
            n = lengths.pop()
            if n == 0:
                raise RequestError("the columns are empty; send at least one row")
            records = [dict(zip(payload, vals, strict=True)) for vals in zip(*payload.values(), strict=True)]
            return Batch(n, [], records=records, keys=keys)
        n = None
        columns: dict[str, list[Any]] = {}
        for j, name in enumerate(self.names):
            if name not in payload:
                raise RequestError(f"the body is missing column '{name}' required by the model signature", column=name)
            col = payload[name]
            if n is None:
                n = len(col)
                if n == 0:
                    raise RequestError(f"column '{name}' is empty; send at least one row", column=name)
            elif len(col) != n:
                raise RequestError(
                    f"column '{name}' has {len(col)} values but '{self.names[0]}' has {n}; send one value per row",
                    column=name,
                )
            if not self.numeric or not set(map(type, col)) <= _NUMERIC or self.kinds[j] == "integer":
                for i, value in enumerate(col):
                    self._check_value(value, name, self.kinds[j], i)
            columns[name] = col
        assert n is not None
        if self.numeric:
            rows = list(zip(*(columns[name] for name in self.names), strict=True))
            return Batch(n, self.names, matrix=self._matrix(rows), keys=keys)
        return Batch(n, self.names, columns=columns, keys=keys)

    # -- value checks -------------------------------------------------------------------------------------

    def _matrix(self, rows: list[Any]) -> np.ndarray:
        try:
            return np.array(rows, dtype=np.float64)
        except (OverflowError, ValueError, TypeError):  # e.g. an integer beyond float range
            for i, row in enumerate(rows):
                for name, value in zip(self.names, row, strict=True):
                    try:
                        float(value if value is not None else math.nan)
                    except (OverflowError, ValueError, TypeError):
                        raise RequestError(
                            f"row {i} field '{name}' holds {value!r}, outside the range of a 64-bit float",
                            column=name,
                            row=i,
                        ) from None
            raise

    def _check_values(self, vals: list[Any], row: int) -> None:
        for name, kind, value in zip(self.names, self.kinds, vals, strict=True):
            self._check_value(value, name, kind, row)

    def _check_value(self, value: Any, name: str, kind: str, row: int) -> None:
        t = type(value)
        if value is None:
            if self.allow_missing and kind not in ("integer", "boolean"):
                return
            why = "" if self.allow_missing else " (missing values are not allowed by this server)"
            raise RequestError(
                f"row {row} field '{name}' is null but the model expects {_kind_word(kind)}{why}", column=name, row=row
            )
        if kind == "float" and t in _NUMERIC:
            if t is float and not math.isfinite(value):
                raise RequestError(f"row {row} field '{name}' is not a finite number", column=name, row=row)
            return
        if kind == "integer" and (t is int or (t is float and math.isfinite(value) and value.is_integer())):
            return
        if kind == "boolean" and t is bool:
            return
        if kind in ("string", "category", "datetime") and t is str:
            return
        raise RequestError(
            f"row {row} field '{name}' is {_type_name(value)} ({_short(value)}) "
            f"but the model expects {_kind_word(kind)}",
            column=name,
            row=row,
        )


def _kind_word(kind: str) -> str:
    return {
        "integer": "an integer",
        "float": "a number",
        "boolean": "true or false",
        "string": "a string",
        "category": "a string (category)",
        "datetime": "an ISO date-time string",
    }[kind]


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool) else _type_name(value)
    return text if len(text) <= 40 else text[:37] + "..."
