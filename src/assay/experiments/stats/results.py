"""The behaviour every statistics result shares: ``summary()``, ``to_dict()`` and ``_repr_html_()``.

Results are frozen dataclasses that mix in :class:`ResultMixin`. Each class writes its own
``summary()`` (one or two plain sentences a manager can act on); the JSON and HTML renderings are
generic over the dataclass fields, so they are written once here.

Every result carries a ``status`` and a ``warnings`` tuple. Degenerate input never produces silent
zeros: the affected numbers are ``nan`` and ``status`` says why.

========================  ====================================================================
status                    meaning
========================  ====================================================================
``ok``                    the numbers are valid
``insufficient_data``     an arm has fewer than 2 units (or no units at all)
``zero_variance``         both arms have zero variance, so a standard error of 0 makes the test undefined
``undefined_relative``    relative lift asked for but the control mean is 0
``undefined_ratio``       a ratio metric whose denominator sums to 0 in an arm
========================  ====================================================================
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["ResultMixin", "Status"]

from assay.results import ResultMixin

Status = Literal["ok", "insufficient_data", "zero_variance", "undefined_relative", "undefined_ratio"]


# --- formatting helpers shared by the summaries -------------------------------------------------


def fmt_lift(value: float, relative: bool) -> str:
    """``+29.0%`` for a relative lift, ``+0.29`` (3 significant digits) for an absolute one."""
    if not math.isfinite(value):
        return {math.inf: "+inf", -math.inf: "-inf"}.get(value, "n/a")
    return f"{value * 100:+.1f}%" if relative else f"{value:+.3g}"


def fmt_p(p: float) -> str:
    """``p = 0.020``, ``p < 0.001`` or ``p = n/a``."""
    if not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def fmt_level(alpha: float) -> str:
    """``95%`` for alpha 0.05; keeps one decimal where needed (``97.5%``)."""
    level = (1 - alpha) * 100
    return f"{level:.0f}%" if abs(level - round(level)) < 1e-9 else f"{level:.1f}%"


def fmt_interval(low: float, high: float, alpha: float, relative: bool, kind: str = "CI") -> str:
    """``95% CI +4.5% to +53.5%``; one-sided intervals read as a lower or upper bound."""
    level = fmt_level(alpha)
    if math.isinf(high) and math.isfinite(low):
        return f"{level} lower bound {fmt_lift(low, relative)}"
    if math.isinf(low) and math.isfinite(high):
        return f"{level} upper bound {fmt_lift(high, relative)}"
    return f"{level} {kind} {fmt_lift(low, relative)} to {fmt_lift(high, relative)}"


def problem_sentence(status: str, warnings: tuple[str, ...]) -> str:
    """The sentence a summary shows instead of numbers when the result is degenerate."""
    reason = warnings[0].rstrip(".") if warnings else status.replace("_", " ")
    return f"No conclusion ({status.replace('_', ' ')}): {reason}"
