"""Plain words for numbers: lifts with their intervals, money, counts and dates, the way an executive reads them.

Every estimate is written with its uncertainty::

    >>> interval_words(0.023, 0.008, 0.039)
    'between +0.8% and +3.9%, most likely +2.3%'
    >>> interval_words(0.02, None, 0.05)
    'at most +5.0%, most likely +2.0%'
    >>> money(1_234_567), money(-48_200, "€")
    ('$1.23M', '-€48.2k')
"""

from __future__ import annotations

import datetime as dt
import math

__all__ = [
    "DECISION_LABELS",
    "chance",
    "count",
    "date_ms",
    "finite",
    "interval_words",
    "lift",
    "money",
    "money_interval",
    "number",
    "pct",
    "title_case",
]

#: Stored readout decision -> (the decision as an executive reads it, tone).
DECISION_LABELS: dict[str, tuple[str, str]] = {
    "ship": ("Ship", "good"),
    "don't ship": ("Don't ship", "bad"),
    "keep running": ("Keep running: inconclusive so far", "warn"),
    "investigate": ("Inconclusive: investigate the data first", "bad"),
}


def finite(value: float | None) -> float | None:
    """``value`` as a float when it is a finite number, else ``None`` (stored ±inf and NaN read as unknown)."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pct(value: float, digits: int = 1, *, sign: bool = True) -> str:
    """``0.0231`` → ``'+2.3%'`` (``sign=False``: ``'2.3%'``)."""
    text = f"{value * 100:+.{digits}f}%" if sign else f"{value * 100:.{digits}f}%"
    return text.replace("+-", "-")


def number(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits and thousands separators: ``12,345``, ``0.842``."""
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def lift(value: float, relative: bool = True, digits: int = 1) -> str:
    """A change as text: ``+2.3%`` for a relative lift, ``+0.042`` for an absolute one."""
    if relative:
        return pct(value, digits)
    text = number(value)
    return text if text.startswith("-") else f"+{text}"


def interval_words(
    estimate: float, low: float | None, high: float | None, relative: bool = True, digits: int = 1
) -> str:
    """``'between +0.8% and +3.9%, most likely +2.3%'``; one-sided: ``'at least ...'`` / ``'at most ...'``."""
    lo, hi = finite(low), finite(high)
    best = f"most likely {lift(estimate, relative, digits)}"
    if lo is not None and hi is not None:
        return f"between {lift(lo, relative, digits)} and {lift(hi, relative, digits)}, {best}"
    if lo is not None:
        return f"at least {lift(lo, relative, digits)}, {best}"
    if hi is not None:
        return f"at most {lift(hi, relative, digits)}, {best}"
    return f"{best} (no interval could be computed)"


def money(value: float, currency: str = "$") -> str:
    """``1234567`` → ``'$1.23M'``; ``-48200`` → ``'-$48.2k'``; three significant digits."""
    if not math.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    v = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= size * 0.9995:
            return f"{sign}{currency}{_sig(v / size)}{suffix}"
    return f"{sign}{currency}{v:,.0f}" if v >= 100 else f"{sign}{currency}{v:.3g}"


def money_interval(estimate: float, low: float | None, high: float | None, currency: str = "$") -> str:
    """``'between $0.3M and $1.9M, most likely $1.1M'`` (signs kept: a loss reads ``-$...``)."""
    lo, hi = finite(low), finite(high)
    best = f"most likely {money(estimate, currency)}"
    if lo is not None and hi is not None:
        return f"between {money(lo, currency)} and {money(hi, currency)}, {best}"
    return best


def chance(p: float) -> str:
    """A probability as words: ``'about 84%'``, ``'over 99%'``, ``'under 1%'``."""
    if p > 0.99:
        return "over 99%"
    if p < 0.01:
        return "under 1%"
    return f"about {p:.0%}"


def count(n: int | float, noun: str) -> str:
    """``count(1, 'user')`` → ``'1 user'``; ``count(1200, 'user')`` → ``'1,200 users'``."""
    n = int(n)
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def date_ms(ms: int | None) -> str:
    """Milliseconds since the epoch as ``'2026-11-25 14:03 UTC'`` (``'never'`` for ``None``)."""
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def title_case(text: str) -> str:
    """First letter upper-cased, the rest kept: ``'treatment b'`` → ``'Treatment b'``."""
    return text[:1].upper() + text[1:]


def _sig(v: float) -> str:
    text = f"{v:.3g}"
    return text if "e" not in text else f"{v:,.0f}"
