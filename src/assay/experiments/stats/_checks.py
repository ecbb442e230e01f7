"""Parameter checks with the house message shape: "The 'alpha' parameter of ttest must be in (0, 1). Got 1.5."."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from assay.errors import InvalidInputError

ALTERNATIVES = ("two-sided", "greater", "less")


def fail(name: str, owner: str, requirement: str, got: Any) -> InvalidInputError:
    return InvalidInputError(f"The {name!r} parameter of {owner} must be {requirement}. Got {got!r}.")


def real(value: Any, name: str, owner: str) -> float:
    """A finite real number, returned as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise fail(name, owner, "a finite number", value)
    return float(value)


def open_unit(value: Any, name: str, owner: str) -> float:
    """A number strictly between 0 and 1 (alpha, power, a probability)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise fail(name, owner, "in (0, 1)", value)
    return float(value)


def positive(value: Any, name: str, owner: str) -> float:
    x = real(value, name, owner)
    if x <= 0:
        raise fail(name, owner, "a positive number", value)
    return x


def non_negative(value: Any, name: str, owner: str) -> float:
    x = real(value, name, owner)
    if x < 0:
        raise fail(name, owner, "a non-negative number", value)
    return x


def count(value: Any, name: str, owner: str, minimum: int = 0) -> int:
    """An integer ``>= minimum``; integral floats (as SQL engines return them) are accepted."""
    if isinstance(value, bool):
        raise fail(name, owner, f"an integer >= {minimum}", value)
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer()
    )
    if integral:
        out = int(value)
    else:
        raise fail(name, owner, f"an integer >= {minimum}", value)
    if out < minimum:
        raise fail(name, owner, f"an integer >= {minimum}", value)
    return out


def alternative(value: Any, owner: str) -> str:
    if value not in ALTERNATIVES:
        raise fail("alternative", owner, "one of 'two-sided', 'greater', 'less'", value)
    return str(value)


def flag(value: Any, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise fail(name, owner, "True or False", value)
    return value


def choice(value: Any, name: str, owner: str, options: Sequence[str]) -> str:
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise fail(name, owner, f"one of {listed}", value)
    return str(value)
