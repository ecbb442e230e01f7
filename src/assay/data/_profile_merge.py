"""Merging the profiles of two partitions of one dataset (see :meth:`assay.data.profile.Profile.merge`)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.data.profile import QUANTILES
from assay.errors import InvalidInputError

if TYPE_CHECKING:
    from assay.data.profile import ColumnProfile


def _merge_column(a: ColumnProfile, b: ColumnProfile, notes: set[str]) -> ColumnProfile:
    if a.kind != b.kind:
        raise InvalidInputError(f"column '{a.name}' is {a.kind} in one profile and {b.kind} in the other")
    na, nb = a.non_null, b.non_null
    n = na + nb
    mean, std = _merge_moments(na, a.mean, a.std, nb, b.mean, b.std)
    lo = _pick(min, a.min, b.min)
    hi = _pick(max, a.max, b.max)
    edges, counts = (), ()
    if not a.histogram_edges or not na:
        edges, counts = b.histogram_edges, b.histogram_counts
    elif not b.histogram_edges or not nb:
        edges, counts = a.histogram_edges, a.histogram_counts
    elif a.histogram_edges == b.histogram_edges:
        edges, counts = (
            a.histogram_edges,
            tuple(x + y for x, y in zip(a.histogram_counts, b.histogram_counts, strict=True)),
        )
    else:
        notes.add(f"merge: histogram of '{a.name}' dropped (the partitions' edges differ; pass edges= to profile)")
    top, other, complete = _merge_top(a, b)
    if complete and (a.top_values or b.top_values):
        distinct = len(top)
    else:
        distinct = max(a.distinct, b.distinct)
        if a.distinct > 0 and b.distinct > 0:
            notes.add("merge: distinct counts are lower bounds (the larger partition's count)")
    if not complete and (a.top_values or b.top_values):
        notes.add("merge: top-value counts are lower bounds where a value was not listed in a partition")
    quantiles = a.quantiles
    if a.quantiles and na and nb:
        quantiles = _merge_quantiles(a, b)
        notes.add("merge: quantiles are approximate (mixture of the partitions' quantile curves)")
    elif not na:
        quantiles = b.quantiles
    return replace(
        a, count=a.count + b.count, nulls=a.nulls + b.nulls, distinct=distinct, min=lo, max=hi, mean=mean,
        std=std, quantiles=quantiles, histogram_edges=edges, histogram_counts=counts, top_values=top,
        other_count=other if top else n,
    )  # fmt: skip


def _pick(fn: Any, x: Any, y: Any) -> Any:
    values = [v for v in (x, y) if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return fn(values) if values else None


def _merge_moments(na: int, ma: float, sa: float, nb: int, mb: float, sb: float) -> tuple[float, float]:
    if na == 0:
        return mb, sb
    if nb == 0:
        return ma, sa
    n = na + nb
    m2a = sa * sa * (na - 1) if na > 1 else 0.0
    m2b = sb * sb * (nb - 1) if nb > 1 else 0.0
    delta = mb - ma
    mean = ma + delta * nb / n
    m2 = m2a + m2b + delta * delta * na * nb / n
    return mean, math.sqrt(m2 / (n - 1)) if n > 1 else float("nan")


def _merge_top(a: ColumnProfile, b: ColumnProfile) -> tuple[tuple[tuple[object, int], ...], int, bool]:
    counts: dict[object, int] = {}
    for v, c in (*a.top_values, *b.top_values):
        counts[v] = counts.get(v, 0) + c
    keep = max(len(a.top_values), len(b.top_values))
    top = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:keep])
    other = a.non_null + b.non_null - sum(c for _, c in top)
    complete = a.other_count == 0 and b.other_count == 0
    return top, other, complete


def _curve(col: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    probs = [0.0] + [q for _, q in QUANTILES] + [1.0]
    values = [float(col.min)] + [col.quantiles[k] for k, _ in QUANTILES] + [float(col.max)]
    return np.maximum.accumulate(np.asarray(values, dtype=float)), np.asarray(probs)


def _merge_quantiles(a: ColumnProfile, b: ColumnProfile) -> dict[str, float]:
    try:
        (xa, pa_), (xb, pb) = _curve(a), _curve(b)
    except (KeyError, TypeError, ValueError):
        return {k: float("nan") for k, _ in QUANTILES}
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        return {k: float("nan") for k, _ in QUANTILES}
    grid = np.unique(np.concatenate([xa, xb]))
    cdf = (a.non_null * np.interp(grid, xa, pa_) + b.non_null * np.interp(grid, xb, pb)) / (a.non_null + b.non_null)
    return {k: float(np.interp(q, cdf, grid)) for k, q in QUANTILES}


# -- computing -----------------------------------------------------------------------------------
