"""Drift statistics as pure functions over counts: no I/O, no engine.

The engine reduces each side of a column to *buckets*: ordered, disjoint intervals ``[lo, hi]`` holding ``n``
values each (the smallest and largest value actually seen in the bucket). A bucket with ``lo == hi`` is an
exact atom (one distinct value with its count); a wider bucket is modelled as ``n`` values spread evenly over
``[lo, hi]``. When every bucket on both sides is an atom the empirical CDFs are known exactly and the KS
statistic and the Wasserstein distance equal scipy's on the raw values (up to float rounding); otherwise they
are approximations whose worst-case error :func:`ks_error_bound` and :func:`wasserstein_error_bound` state.

Definitions follow Evidently's stattests where both offer the same test, so numbers agree:

* Wasserstein (normed): ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref, ddof=0), 0.001)``.
* Jensen–Shannon: ``scipy.spatial.distance.jensenshannon(p, q)`` (natural log) on the shares per category,
  or per bin for numeric data.
* PSI: ``sum((p - q) * ln(p / q))`` with zero shares replaced by ``min_nonzero / 1e6`` when the smallest
  non-zero share is ≤ 0.0001, else by 0.0001 (Evidently's rule).
* Chi-square: unlike Evidently, the two-sample test of homogeneity (``scipy.stats.chi2_contingency`` on the
  2 × k table, no continuity correction). Evidently's goodness-of-fit test takes the reference shares as exact,
  which about doubles its false alarms on two samples of one size (and divides by zero for a category absent
  from the reference); the contingency test counts both samples' noise and needs no smoothing.
* KS: two-sided; the p-value is scipy's exact one when both samples are known exactly and hold ≤ 10,000
  values, otherwise the asymptotic ``kstwo.sf(D, round(n·m / (n + m)))`` — what ``ks_2samp`` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Buckets",
    "adjust_pvalues",
    "align_counts",
    "bin_counts",
    "chisquare_test",
    "heavy_runs",
    "jensenshannon",
    "ks_error_bound",
    "ks_test",
    "profile_buckets",
    "psi",
    "sturges_bins",
    "wasserstein",
    "wasserstein_error_bound",
]

KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp 'auto' switches to the asymptotic p-value above this


@dataclass(frozen=True)
class Buckets:
    """One side of a numeric column: ordered, disjoint intervals ``[lo, hi]`` with ``n`` values each."""

    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray

    @classmethod
    def of(cls, lo: Sequence[float], hi: Sequence[float], n: Sequence[float]) -> Buckets:
        """Sorted by ``lo``, empty buckets dropped, overlaps (float rounding at bin edges) clipped away."""
        lo_a, hi_a, n_a = (np.asarray(v, dtype=float) for v in (lo, hi, n))
        keep = n_a > 0
        order = np.argsort(lo_a[keep], kind="stable")
        lo_a, hi_a, n_a = lo_a[keep][order], hi_a[keep][order], n_a[keep][order]
        if len(lo_a) > 1:
            lo_a[1:] = np.maximum(lo_a[1:], np.maximum.accumulate(hi_a)[:-1])
            hi_a = np.maximum(hi_a, lo_a)
        return cls(lo_a, hi_a, n_a)

    @classmethod
    def atoms(cls, values: Sequence[float], counts: Sequence[float]) -> Buckets:
        """Exact (value, count) pairs."""
        return cls.of(values, values, counts)

    @classmethod
    def from_sample(cls, values: Sequence[float]) -> Buckets:
        """The exact buckets of a raw sample (used by tests and small inputs)."""
        vals, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
        return cls.atoms(vals, counts)

    @property
    def total(self) -> float:
        return float(self.n.sum())

    @property
    def exact(self) -> bool:
        """True when every bucket is a single distinct value: the CDF is known exactly."""
        return bool(np.all(self.lo == self.hi))

    def expand(self) -> np.ndarray:
        """The sample itself (exact buckets only)."""
        return np.repeat(self.lo, self.n.astype(np.int64))


def _curve(b: Buckets) -> tuple[np.ndarray, np.ndarray]:
    """The CDF as a polyline through (x, F) points; an atom is a vertical step, a bucket a straight ramp."""
    before = np.concatenate([[0.0], np.cumsum(b.n)[:-1]]) / b.total
    after = np.cumsum(b.n) / b.total
    xs = np.empty(2 * len(b.n))
    fs = np.empty(2 * len(b.n))
    xs[0::2], xs[1::2] = b.lo, b.hi
    fs[0::2], fs[1::2] = before, after
    return xs, fs


def _at(xs: np.ndarray, fs: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """The polyline at ``x``: ``side="left"`` gives F(x−), ``"right"`` gives F(x) (right-continuous)."""
    if side == "right":
        i = np.searchsorted(xs, x, side="right") - 1  # last point with xs <= x
        j = np.minimum(i + 1, len(xs) - 1)
    else:
        j = np.searchsorted(xs, x, side="left")  # first point with xs >= x
        i = np.maximum(j - 1, 0)
        j = np.minimum(j, len(xs) - 1)
    i_c = np.clip(i, 0, len(xs) - 1)
    x0, x1, f0, f1 = xs[i_c], xs[j], fs[i_c], fs[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(x1 > x0, (x - x0) / (x1 - x0), 1.0 if side == "right" else 0.0)
    val = f0 + np.clip(frac, 0.0, 1.0) * (f1 - f0)
    val = np.where(i < 0, 0.0, val)
    return np.where(x >= xs[-1], 1.0, val) if side == "right" else np.where(x > xs[-1], 1.0, val)


def _diffs(ref: Buckets, cur: Buckets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid of all knots, and F_ref − F_cur just left of and at each knot."""
    xr, fr = _curve(ref)
    xc, fc = _curve(cur)
    grid = np.unique(np.concatenate([xr, xc]))
    left = _at(xr, fr, grid, "left") - _at(xc, fc, grid, "left")
    right = _at(xr, fr, grid, "right") - _at(xc, fc, grid, "right")
    return grid, left, right


def ks_statistic(ref: Buckets, cur: Buckets) -> float:
    """sup |F_ref − F_cur|: exact for exact buckets (the sup of two polylines is at a knot)."""
    _, left, right = _diffs(ref, cur)
    return float(max(np.abs(left).max(), np.abs(right).max()))


def ks_test(ref: Buckets, cur: Buckets) -> tuple[float, float]:
    """Two-sided two-sample KS: (D, p-value), as ``scipy.stats.ks_2samp`` computes them."""
    n1, n2 = round(ref.total), round(cur.total)
    if ref.exact and cur.exact and max(n1, n2) <= KS_EXACT_MAX_N:
        res = stats.ks_2samp(ref.expand(), cur.expand())
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(ref, cur)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(stats.kstwo.sf(d, np.round(m * n / (m + n))))
    return d, min(max(p, 0.0), 1.0)


def wasserstein(ref: Buckets, cur: Buckets) -> float:
    """∫ |F_ref − F_cur| dx (the first Wasserstein distance, as ``scipy.stats.wasserstein_distance``)."""
    grid, left, right = _diffs(ref, cur)
    if len(grid) < 2:
        return 0.0
    d0, d1, h = right[:-1], left[1:], np.diff(grid)  # linear in between two knots
    same = d0 * d1 >= 0
    a0, a1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(a0 + a1 > 0, (d0 * d0 + d1 * d1) / (2 * (a0 + a1)), 0.0)
    area = np.where(same, (a0 + a1) / 2, crossing) * h
    return float(area.sum())


def wasserstein_norm(ref: Buckets, cur: Buckets, ref_std: float) -> float:
    """Wasserstein distance over the reference's standard deviation (ddof=0), floored at 0.001 (Evidently)."""
    return wasserstein(ref, cur) / max(ref_std, 0.001)


def ks_error_bound(ref: Buckets, cur: Buckets) -> float:
    """Worst-case |D_approx − D_true|: the largest share of one side inside one non-atom bucket, both sides."""
    return _widest_mass(ref) + _widest_mass(cur)


def _widest_mass(b: Buckets) -> float:
    wide = b.hi > b.lo
    return float(b.n[wide].max() / b.total) if wide.any() else 0.0


def wasserstein_error_bound(ref: Buckets, cur: Buckets) -> float:
    """Worst-case |W_approx − W_true|: Σ share × width over the non-atom buckets of both sides."""
    return float(((ref.hi - ref.lo) * ref.n).sum() / ref.total + ((cur.hi - cur.lo) * cur.n).sum() / cur.total)


def heavy_runs(
    ref: np.ndarray, ref_n: int, cur: np.ndarray, cur_n: int, share: float, max_runs: int, max_sub: int
) -> tuple[list[tuple[float, float, int]], np.ndarray]:
    """Which histogram bins to split again, from both sides' bins (rows: key, n, min, max).

    A bin is heavy when it holds more than ``share`` of either side and more than one distinct value. Runs of
    neighbouring heavy bins (in value order) are merged; the ``max_runs`` heaviest are returned as (observed min,
    observed max, sub-bins: about 4 per ``share`` of mass, at most ``max_sub``), with the keys they replace.
    """
    both = np.concatenate([ref, cur])
    mass = np.concatenate([ref[:, 1] / max(ref_n, 1), cur[:, 1] / max(cur_n, 1)])
    if not len(both) or not np.any((mass > share) & (both[:, 3] > both[:, 2])):
        return [], np.empty(0)
    keys, inv = np.unique(both[:, 0], return_inverse=True)
    lo, hi, top = np.full(len(keys), np.inf), np.full(len(keys), -np.inf), np.zeros(len(keys))
    np.minimum.at(lo, inv, both[:, 2])
    np.maximum.at(hi, inv, both[:, 3])
    np.maximum.at(top, inv, mass)
    order = np.argsort(lo, kind="stable")
    keys, lo, hi, top = keys[order], lo[order], hi[order], top[order]
    heavy = (top > share) & (hi > lo)
    starts = np.flatnonzero(heavy & ~np.concatenate([[False], heavy[:-1]]))
    ends = np.flatnonzero(heavy & ~np.concatenate([heavy[1:], [False]]))
    run_mass = np.array([top[a : b + 1].sum() for a, b in zip(starts, ends, strict=True)])
    pick = np.argsort(-run_mass, kind="stable")[:max_runs]
    drop = np.concatenate([keys[starts[i] : ends[i] + 1] for i in pick])
    runs = [(float(lo[starts[i]]), float(hi[ends[i]]), min(max_sub, math.ceil(4 * run_mass[i] / share))) for i in pick]
    return sorted(runs), drop


def bin_counts(b: Buckets, edges: np.ndarray, outer: bool = False) -> np.ndarray:
    """Counts per bin of ``edges``, by each bucket's mid-point (an atom: its value, as ``np.histogram`` bins it;
    finer buckets nest inside the bins by construction). ``outer`` adds an underflow and an overflow bin."""
    mid = (b.lo + b.hi) / 2
    inner = np.histogram(mid, bins=edges, weights=b.n)[0]
    if not outer:
        return inner
    return np.concatenate([[b.n[mid < edges[0]].sum()], inner, [b.n[mid > edges[-1]].sum()]])


def profile_buckets(edges: Sequence[float], counts: Sequence[float], vmin: object, vmax: object) -> Buckets:
    """A stored histogram as buckets: each bin's values spread over the bin (the outer bins over min / max)."""
    e = np.asarray(edges, float)
    lo, hi = e[:-1].copy(), e[1:].copy()
    if vmin is not None and vmax is not None and len(lo):
        lo[0], hi[-1] = max(lo[0], float(vmin)), min(hi[-1], float(vmax))  # type: ignore[arg-type]
    return Buckets.of(lo, hi, counts)


def sturges_bins(n: int) -> int:
    """Number of equal-width bins numpy's ``histogram_bin_edges(..., bins="sturges")`` uses for ``n`` values."""
    return max(1, math.ceil(math.log2(n) + 1.0)) if n > 0 else 1


def align_counts(ref: Mapping[object, float], cur: Mapping[object, float]) -> tuple[list, np.ndarray, np.ndarray]:
    """Union of the keys (reference order first) and both sides' counts aligned on it (0 where absent)."""
    keys = list(ref) + [k for k in cur if k not in ref]
    return keys, np.array([ref.get(k, 0) for k in keys], float), np.array([cur.get(k, 0) for k in keys], float)


def jensenshannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (natural log) between two count vectors, normalised to shares first."""
    p = np.asarray(ref_counts, float)
    q = np.asarray(cur_counts, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return math.nan
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def _fill_zeros(share: np.ndarray) -> np.ndarray:
    nonzero = share[share > 0]
    if len(nonzero) == 0:
        return share
    low = nonzero.min()
    return np.where(share == 0, low / 1e6 if low <= 0.0001 else 0.0001, share)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index of two count vectors (zero shares filled as Evidently does)."""
    r = np.asarray(ref_counts, float)
    c = np.asarray(cur_counts, float)
    if r.sum() <= 0 or c.sum() <= 0:
        return math.nan
    p, q = _fill_zeros(r / r.sum()), _fill_zeros(c / c.sum())
    return float(((p - q) * np.log(p / q)).sum())


def chisquare_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors (a 2 × k contingency table): (statistic, p-value)."""
    r = np.asarray(ref_counts, float)
    c = np.asarray(cur_counts, float)
    if r.sum() <= 0 or c.sum() <= 0:
        return math.nan, math.nan
    keep = (r > 0) | (c > 0)
    if keep.sum() < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
    return float(res.statistic), float(res.pvalue)


CORRECTIONS = ("bonferroni", "holm", "bh")


def adjust_pvalues(pvalues: Sequence[float], method: str) -> np.ndarray:
    """Multiple-testing adjusted p-values: ``bonferroni``, ``holm`` (step-down) or ``bh`` (Benjamini–Hochberg false
    discovery rate); the same numbers as statsmodels' ``multipletests``. nan stays nan and is not counted."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), math.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ps = p[order]
    if method == "bonferroni":
        adj = ps * m
    elif method == "holm":
        adj = np.maximum.accumulate(ps * (m - np.arange(m)))
    elif method == "bh":
        adj = np.minimum.accumulate((ps * m / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}: use one of {CORRECTIONS}")
    out[order] = np.minimum(adj, 1.0)
    return out
