"""What every assay result object shares: ``to_dict()`` (JSON-safe) and ``_repr_html_()`` for notebooks.

Results across assay (experiments, data checks, monitoring, governance) are frozen dataclasses that
mix in :class:`ResultMixin` and write their own ``summary()``: one or two plain sentences a manager
can act on. The JSON and HTML renderings are generic over the dataclass fields, so they live here once.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import math
from abc import abstractmethod
from typing import Any

import numpy as np

__all__ = ["ResultMixin", "json_safe"]


class ResultMixin:
    """Adds ``to_dict()`` and ``_repr_html_()`` to a frozen result dataclass that defines ``summary()``."""

    __slots__ = ()

    @abstractmethod
    def summary(self) -> str:
        """One or two plain sentences a manager can act on."""

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as JSON-safe values: ``nan``/``inf`` become ``None``, tuples become lists."""
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(f.name)}</th><td style='text-align:left'>"
            f"{_html_value(getattr(self, f.name))}</td></tr>"
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        )
        return (
            f"<div class='assay-result'><p><strong>{html.escape(type(self).__name__)}</strong>: "
            f"{html.escape(self.summary())}</p><table>{rows}</table></div>"
        )


def json_safe(value: Any) -> Any:
    """``value`` as JSON-safe data: numpy scalars to Python, non-finite floats to ``None``, dates to ISO text."""
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value


def _html_value(value: Any) -> str:
    if isinstance(value, ResultMixin):
        return value._repr_html_()
    if isinstance(value, float | np.floating):
        return html.escape(f"{float(value):.6g}")
    if isinstance(value, tuple) and not value:
        return ""
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return "<br>".join(html.escape(v) for v in value)
    return html.escape(str(value))
