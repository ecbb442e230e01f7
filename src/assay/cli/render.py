"""Shared output helpers for the command line: consoles, JSON, and value formatting for tables.

The stdout console has markup turned off and cells are :class:`rich.text.Text`, so a ``[red]``
inside a run name or param value is printed as it is, never interpreted as Rich markup.

Example::

    table = new_table("key", "value")
    table.add_row(cell("lr"), cell(fmt_value(0.05)))
    stdout().print(table)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

__all__ = [
    "JsonOption",
    "cell",
    "fmt_duration",
    "fmt_size",
    "fmt_time",
    "fmt_value",
    "kv_table",
    "new_table",
    "print_json",
    "run_duration",
    "short_id",
    "spaced",
    "sparkline",
    "status_text",
    "stderr",
    "stdout",
    "to_jsonable",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON only (no colours or tables) to stdout.")
]

STATUS_STYLES = {"running": "yellow", "finished": "green", "failed": "red", "killed": "magenta"}
_BLOCKS = "▁▂▃▄▅▆▇█"
_MAX_CELL = 60


def stdout(width: int | None = None) -> Console:
    """A Rich console on the current stdout (created per call, so test runners can capture it).

    Markup is off: every string printed is literal, so user data can never inject styles; styling
    is done with ``Text(..., style=...)`` and column styles instead.
    """
    return Console(highlight=False, markup=False, width=width)


def stderr() -> Console:
    """A Rich console on stderr, for progress and warnings that must not pollute ``--json`` output."""
    return Console(stderr=True, highlight=False)


def to_jsonable(value: Any) -> Any:
    """``value`` with timestamps as ISO-8601 strings, numpy scalars as Python numbers, NaN/±inf as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime | date):  # pd.Timestamp is a datetime
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (``default=str`` for anything else)."""
    typer.echo(json.dumps(to_jsonable(value), default=str, indent=2, allow_nan=False))


def short_id(run_id: str | None, n: int = 8) -> str:
    """The first ``n`` characters of a run id (``-`` for none)."""
    return run_id[:n] if run_id else "-"


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def fmt_time(value: Any, *, seconds: bool = True) -> str:
    """A UTC timestamp (datetime or epoch ms) as ``2024-05-01 12:00:03``; ``-`` when missing."""
    dt = _as_datetime(value)
    if dt is None:
        return "-"
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def fmt_duration(seconds: float | None) -> str:
    """A duration in the largest sensible units: ``850ms``, ``12.3s``, ``4m 05s``, ``2h 03m``, ``3d 04h``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(seconds)
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"{total // 86400}d {total % 86400 // 3600:02d}h"


def run_duration(start: Any, end: Any) -> float | None:
    """Seconds from ``start`` to ``end`` (to now when a running run has no end yet)."""
    begin = _as_datetime(start)
    if begin is None:
        return None
    finish = _as_datetime(end) or datetime.now(UTC)
    return (finish - begin).total_seconds()


def fmt_value(value: Any, digits: int = 6) -> str:
    """A metric or param value for a table cell: floats to ``digits`` significant digits, long text shortened."""
    if value is None or value is pd.NaT:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def fmt_size(num_bytes: int | None) -> str:
    """A byte count as ``512 B``, ``1.2 KiB``, ``3.4 MiB``..."""
    if num_bytes is None:
        return "-"
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def cell(value: Any, style: str = "") -> Text:
    """A table cell holding ``value`` as literal text (never parsed as markup)."""
    return Text(value if isinstance(value, str) else fmt_value(value), style=style)


def status_text(status: str) -> Text:
    """A run status coloured by meaning (running yellow, finished green, failed red, killed magenta)."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def new_table(
    *columns: str,
    title: str | None = None,
    caption: str | None = None,
    wrap: Iterable[str] = (),
    min_width: Mapping[str, int] | None = None,
) -> Table:
    """A table in the house style (header rule only); columns in ``wrap`` fold, the others never wrap."""
    table = Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        header_style="bold",
        title_justify="left",
        title_style="bold",
        caption_justify="left",
        pad_edge=False,
        show_edge=False,
    )
    folding = set(wrap)
    for name in columns:
        table.add_column(name, no_wrap=name not in folding, overflow="fold", min_width=(min_width or {}).get(name))
    return table


def spaced(*parts: Any) -> Group:
    """Renderables one after the other with a blank line between them (for multi-section views)."""
    items: list[Any] = []
    for part in parts:
        if items:
            items.append(Text(""))
        items.append(part)
    return Group(*items)


def kv_table(rows: Iterable[tuple[str, Any]], *, title: str | None = None) -> Table:
    """A two-column ``key  value`` grid for the details of one object; ``Text`` values keep their style."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if title:
        table.title = title
        table.title_justify = "left"
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else cell(value))
    return table


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """The series as one line of block characters, averaged into at most ``width`` buckets (NaN: blank).

    Example::

        >>> sparkline([1, 2, 3, 4])
        '▁▃▆█'
    """
    if not values:
        return ""
    n = len(values)
    buckets = min(width, n)
    means: list[float] = []
    for b in range(buckets):
        chunk = [v for v in values[b * n // buckets : (b + 1) * n // buckets] if math.isfinite(v)]
        means.append(sum(chunk) / len(chunk) if chunk else math.nan)
    finite = [m for m in means if math.isfinite(m)]
    if not finite:
        return " " * buckets
    low, high = min(finite), max(finite)
    out = []
    for m in means:
        if not math.isfinite(m):
            out.append(" ")
        elif high == low:
            out.append(_BLOCKS[len(_BLOCKS) // 2])
        else:
            out.append(_BLOCKS[round((m - low) / (high - low) * (len(_BLOCKS) - 1))])
    return "".join(out)
