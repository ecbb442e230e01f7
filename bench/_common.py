"""Helpers shared by the benchmarks in ``bench/``: timing, progress, the results table and JSON output.

A benchmark builds a list of :class:`Row` (one per scenario, both tools' medians in seconds), prints
:func:`markdown_table` on stdout and, when asked, saves raw timings with :func:`write_json`.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Row", "fmt_time", "machine_info", "markdown_table", "median", "progress", "timed", "write_json"]

_START = time.perf_counter()


def progress(message: str) -> None:
    """One line of progress on stderr, prefixed with the seconds since the benchmark started."""
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` takes, measured with ``perf_counter`` after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_time(seconds: float | None) -> str:
    """``1.23 µs``, ``45.6 ms``, ``3.21 s``: three significant digits in the natural unit."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


@dataclass
class Row:
    """One line of the results table; times are medians in seconds, ``ratio`` is peer / ours."""

    scenario: str
    ours: float
    peer: float | None
    target: str = "—"
    met: bool | None = None
    peer_note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.peer is None or self.ours <= 0 else self.peer / self.ours

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def markdown_table(rows: Sequence[Row], ours: str, peer: str) -> str:
    """The rows as a Markdown table: scenario | ours | peer | ratio | target | met?"""
    head = f"| scenario | {ours} median | {peer} median | ratio ({peer}/{ours}) | target | met? |"
    lines = [head, "|" + "---|" * 6]
    for r in rows:
        peer_cell = fmt_time(r.peer) + (f" {r.peer_note}" if r.peer_note else "")
        ratio = "—" if r.ratio is None else f"{r.ratio:,.3g}×" if r.ratio < 1000 else f"{r.ratio:,.0f}×"
        met = {None: "—", True: "yes", False: "**no**"}[r.met]
        lines.append(f"| {r.scenario} | {fmt_time(r.ours)} | {peer_cell} | {ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def machine_info(**versions: str) -> dict[str, Any]:
    """Where the numbers come from: CPU count, load, OS, Python and the tools' versions."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **versions,
    }


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
