"""Data drift: does the current data still look like the reference, column by column?

:func:`drift` compares two sources (paths, DataFrames, Arrow tables, or table names / SELECTs with ``engine=``)
— or a stored :class:`~assay.data.profile.Profile` against current rows — and returns a :class:`DriftReport`.
The work runs where the data lives: each side is reduced by the engine to per-column counts, and only those
come back to Python. Per side, one query computes every column's count, min, max and standard deviation;
one more returns every numeric column's histogram (UNION ALL of per-column GROUP BYs), one the categories'
counts. The statistics themselves are pure functions in ``_drift_stats``.

**Default method per column** (``method="auto"``, as Evidently chooses):

===================================  ==========================================  ================================
column                               ≤ 1,000 reference values                    more
===================================  ==========================================  ================================
numeric (> 5 distinct values)        KS test, drift when p < 0.05                normalised Wasserstein ≥ 0.1
numeric (≤ 5 distinct values),       chi-square test of homogeneity, p < 0.05    Jensen–Shannon distance ≥ 0.1
categorical, boolean
===================================  ==========================================  ================================

Explicit methods: ``"ks"``, ``"wasserstein"`` (numeric only), ``"chisquare"``, ``"jensenshannon"``, ``"psi"``
(PSI ≥ 0.1 flags drift; 0.2 is called a major shift), one for every column or a dict column → method.
Distances drift when ≥ the threshold (Evidently's rule); tests when p < the threshold. Numeric JS/PSI/chi-square
use Evidently's bins: per value when the reference has ≤ 20 distinct values, otherwise Sturges' number of
equal-width bins over both sides' range. Chi-square is the two-sample test of homogeneity (Evidently's
goodness-of-fit version ignores the reference's own noise). Datetime and other columns are left out unless named.

**Exact or binned.** Numeric columns with ≤ 20,000 values per side come back as exact (value, count) pairs:
KS and Wasserstein then equal scipy's. Larger ones come back as a fine histogram (about 4,096 equal-width bins
over both sides' range, each with its observed min and max); runs of bins holding more than 0.2% of a side and
more than one value are binned again over their observed range (up to 6 rounds, each one more scan of those
columns only), so skewed data and outliers keep a fine grid. A bin holding one distinct value is exact (integer
columns usually are); values inside a wider bin are taken as evenly spread. The worst-case error
(``_drift_stats.ks_error_bound`` / ``wasserstein_error_bound``, typically ≤ 0.004 in D; the actual error is
far smaller) is stated in ``detail`` whenever a result is not exact.

**A profile as the reference** (any object with ``columns`` of ColumnProfile-like items: ``name, kind, count,
std, histogram_edges, histogram_counts, top_values, other_count``): current values are binned on the profile's
edges (plus an underflow and an overflow bin); numeric statistics use the profile's bins (values spread evenly
inside each) and are flagged approximate; categories not among the profile's top values count as "other".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assay.data.sources import bind
from assay.engine import Engine
from assay.errors import InvalidInputError
from assay.monitoring import _drift_stats as st
from assay.monitoring._drift_sql import (  # noqa: F401 - re-exported for tests
    _FINITE,
    HEAVY_SHARE,
    MAX_CATEGORIES,
    MAX_REFINED,
    OTHER,
    REFINE_LEVELS,
    SUB_BINS,
    _categories,
    _Col,
    _heavy,
    _histograms,
    _key,
    _kind,
    _lit,
    _refine,
    _Side,
    _stats,
    _x,
)
from assay.results import ResultMixin

__all__ = ["ColumnDrift", "DriftReport", "drift", "prediction_drift", "target_drift"]

METHODS = ("ks", "wasserstein", "chisquare", "jensenshannon", "psi")
DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
CORRECTIONS = st.CORRECTIONS
SMALL_SAMPLE = 1000  # reference values at or below which tests (KS, chi-square) are the default
FEW_VALUES = 5  # numeric columns with this many distinct values or fewer are compared as categories
PER_VALUE_BINS = 20  # numeric JS/PSI bin per value when the reference has this many distinct values or fewer
EXACT_MAX = 20_000  # numeric columns with at most this many values per side come back as exact (value, count)
FINE_BINS = 4096
STATUSES = ("ok", "missing_in_current", "missing_in_reference", "type_mismatch", "empty", "all_null", "unsupported")


@dataclass(frozen=True)
class ColumnDrift(ResultMixin):
    """One column's verdict. ``statistic`` is the distance (or the test statistic: KS D, chi-square), ``p_value``
    the test's p-value (after ``correction``; nan for distances); ``status`` other than ``"ok"`` means the column
    could not be compared (nan statistics). Counts are the non-null values compared on each side."""

    column: str
    kind: str
    method: str
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    status: str = "ok"
    detail: str = ""
    ref_count: int = 0
    cur_count: int = 0

    def summary(self) -> str:
        if self.status != "ok":
            return f"Column '{self.column}' was not compared ({self.status.replace('_', ' ')}): {self.detail}"
        verdict = "drifted" if self.drifted else "shows no drift"
        if self.method in P_VALUE_METHODS:
            cmp = "<" if self.drifted else "≥"
            what = f"{_LABELS[self.method]} p-value {self.p_value:.3g} {cmp} {self.threshold:g}"
        else:
            cmp = "≥" if self.drifted else "<"
            what = f"{_LABELS[self.method]} {self.statistic:.3g} {cmp} {self.threshold:g}"
        return (
            f"Column '{self.column}' {verdict}: {what} ({self.ref_count:,} reference vs {self.cur_count:,} "
            f"current values)." + (f" {self.detail}" if self.detail else "")
        )


_LABELS = {
    "ks": "KS test",
    "chisquare": "chi-square test",
    "wasserstein": "normalised Wasserstein distance",
    "jensenshannon": "Jensen-Shannon distance",
    "psi": "PSI",
}


@dataclass(frozen=True)
class DriftReport(ResultMixin):
    """Per-column verdicts and the dataset's: drifted when ``share_drifted`` (of the comparable columns) ≥
    ``drift_share``."""

    columns: tuple[ColumnDrift, ...]
    share_drifted: float
    dataset_drifted: bool
    drift_share: float = 0.5
    correction: str | None = None

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        raise InvalidInputError(f"no column {name!r} in this report; columns: {[c.column for c in self.columns]}")

    def summary(self) -> str:
        ok = [c for c in self.columns if c.status == "ok"]
        drifted = self.drifted_columns
        head = "Dataset drift detected" if self.dataset_drifted else "No dataset drift"
        text = (
            f"{head}: {len(drifted)} of {len(ok)} compared columns drifted ({self.share_drifted:.0%}; the dataset is "
            f"flagged at {self.drift_share:.0%})."
        )
        if drifted:
            shown = ", ".join(drifted[:10]) + (f" and {len(drifted) - 10} more" if len(drifted) > 10 else "")
            text += f" Drifted: {shown}."
        bad = [c for c in self.columns if c.status != "ok"]
        if bad:
            text += " Not compared: " + "; ".join(f"{c.column} ({c.status.replace('_', ' ')})" for c in bad[:10])
            text += "." if len(bad) <= 10 else f" and {len(bad) - 10} more."
        return text

    def to_frame(self) -> Any:
        """The per-column verdicts as a small pandas DataFrame (one row per column)."""
        import pandas as pd

        return pd.DataFrame([c.to_dict() for c in self.columns])


def _buckets(s: _Side) -> st.Buckets:
    return st.Buckets.of(s.bins[:, 2], s.bins[:, 3], s.bins[:, 1])


def _profile_ref(c: _Col) -> st.Buckets:
    p = c.profile
    if p.top_values and not p.other_count:  # every distinct value counted: exact
        return st.Buckets.atoms([float(v) for v, _ in p.top_values], [n for _, n in p.top_values])
    return st.profile_buckets(p.histogram_edges, p.histogram_counts, p.min, p.max)


def _numeric_counts(c: _Col, ref: st.Buckets, cur: st.Buckets) -> tuple[np.ndarray, np.ndarray, str]:
    """Both sides' counts on Evidently's bins (per value, or Sturges' equal-width bins), or the profile's bins."""
    if ref.exact and cur.exact and len(ref.lo) <= PER_VALUE_BINS:
        _, r, q = st.align_counts(dict(zip(ref.lo, ref.n, strict=True)), dict(zip(cur.lo, cur.n, strict=True)))
        return r, q, "per-value bins"
    if c.profile is not None:
        edges = np.asarray(c.profile.histogram_edges, float)
        r = np.concatenate([[0.0], np.asarray(c.profile.histogram_counts, float), [0.0]])
        return r, st.bin_counts(cur, edges, outer=True), f"the profile's {len(edges) - 1} bins"
    k = st.sturges_bins(c.ref.n + c.cur.n)
    edges = np.linspace(c.lo, c.hi, k + 1) if c.hi > c.lo else np.array([c.lo - 0.5, c.lo + 0.5])
    return st.bin_counts(ref, edges), st.bin_counts(cur, edges), f"{len(edges) - 1} equal-width bins"


def _auto(c: _Col, n_distinct: int | None) -> str:
    small = c.ref.n <= SMALL_SAMPLE
    if c.kind == "numeric" and (n_distinct is None or n_distinct > FEW_VALUES):
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def _compare(c: _Col, method: str, threshold: Any) -> ColumnDrift:
    nan = math.nan
    if c.status != "ok":
        return ColumnDrift(c.name, c.kind, method, nan, nan, nan, False, c.status, c.detail, c.ref.n, c.cur.n)
    stat, p, notes = nan, nan, []
    if c.kind == "numeric":
        ref = _profile_ref(c) if c.profile is not None else _buckets(c.ref)
        cur = _buckets(c.cur)
        distinct = len(np.union1d(ref.lo, cur.lo)) if ref.exact and cur.exact else None
        method = _auto(c, distinct) if method == "auto" else method
        exact = ref.exact and cur.exact
        if method == "ks":
            stat, p = st.ks_test(ref, cur)
            if not exact:
                notes.append(f"approximate (binned): D within ±{st.ks_error_bound(ref, cur):.2g}")
        elif method == "wasserstein":
            std = c.ref.std
            stat = st.wasserstein_norm(ref, cur, std)
            if not exact:
                notes.append(
                    f"approximate (binned): within ±{st.wasserstein_error_bound(ref, cur) / max(std, 0.001):.2g}"
                )
        else:
            r, q, how = _numeric_counts(c, ref, cur)
            stat, p, notes = _counts_stat(method, r, q, notes)
            notes.append(f"on {how}")
    else:
        method = _auto(c, None) if method == "auto" else method
        if method in ("ks", "wasserstein"):
            raise InvalidInputError(f"method {method!r} needs a numeric column; '{c.name}' is categorical: use "
                                    "'chisquare', 'jensenshannon' or 'psi'")  # fmt: skip
        if c.profile is not None:
            ref_c, cur_c = _profile_cats(c)
        else:
            ref_c, cur_c = c.ref.cats, c.cur.cats
        _, r, q = st.align_counts(ref_c, cur_c)
        stat, p, notes = _counts_stat(method, r, q, notes)
        new = [k for k in cur_c if k not in ref_c and k != OTHER]
        if new:
            notes.append(f"{len(new)} categor{'y' if len(new) == 1 else 'ies'} not in the reference: "
                         + ", ".join(map(str, new[:5])) + ("..." if len(new) > 5 else ""))  # fmt: skip
        if c.ref.truncated or c.cur.truncated:
            notes.append(f"more than {MAX_CATEGORIES:,} categories: the rarest are pooled as '{OTHER}'")
    thr = _threshold_for(c.name, method, threshold)
    drifted = bool(p < thr) if method in P_VALUE_METHODS else bool(stat >= thr)
    if method == "psi" and stat >= 0.2:
        notes.append("PSI ≥ 0.2: a major shift")
    ref_n = (
        c.ref.n if c.profile is None else int(sum(c.profile.histogram_counts or ())) if c.kind == "numeric" else c.ref.n
    )
    return ColumnDrift(c.name, c.kind, method, stat, p, thr, drifted, "ok", "; ".join(notes), ref_n, c.cur.n)


def _counts_stat(method: str, r: np.ndarray, q: np.ndarray, notes: list[str]) -> tuple[float, float, list[str]]:
    if method == "jensenshannon":
        return st.jensenshannon(r, q), math.nan, notes
    if method == "psi":
        return st.psi(r, q), math.nan, notes
    if method == "chisquare":
        stat, p = st.chisquare_test(r, q)
        return stat, p, notes
    raise InvalidInputError(f"method {method!r} does not apply here")


def _norm_value(v: Any) -> Any:
    return ("true" if v else "false") if isinstance(v, bool | np.bool_) else str(v)


def _profile_cats(c: _Col) -> tuple[dict[Any, float], dict[Any, float]]:
    ref = {_norm_value(v): float(n) for v, n in (c.profile.top_values or ())}
    if c.profile.other_count:
        ref[OTHER] = float(c.profile.other_count)
    cur: dict[Any, float] = {}
    for v, n in c.cur.cats.items():
        key = v if v in ref or not c.profile.other_count else OTHER
        cur[key] = cur.get(key, 0.0) + n
    return ref, cur


# -- entry points ---------------------------------------------------------------------------------------
def _is_profile(obj: object) -> bool:
    cols = getattr(obj, "columns", None)
    if cols is None or isinstance(obj, str) or type(obj).__name__ in ("DataFrame", "Table"):
        return False
    items = list(cols.values()) if isinstance(cols, Mapping) else list(cols)
    return bool(items) and all(hasattr(c, "histogram_counts") and hasattr(c, "kind") for c in items)


def _profile_kinds(profile: Any) -> tuple[dict[str, str], dict[str, Any]]:
    cols = profile.columns
    items = list(cols.values()) if isinstance(cols, Mapping) else list(cols)
    kinds = {c.name: ("categorical" if c.kind == "boolean" else c.kind) for c in items}
    return kinds, {c.name: c for c in items}


def _plan(
    ref_kinds: dict[str, str], cur_kinds: dict[str, str], ref_types: dict[str, str], cur_types: dict[str, str],
    columns: Sequence[str] | None, categorical: set[str],
) -> list[_Col]:  # fmt: skip
    if columns is None:
        names = [n for n in ref_kinds if ref_kinds[n] in ("numeric", "categorical")]
        names += [n for n in cur_kinds if n not in ref_kinds and cur_kinds[n] in ("numeric", "categorical")]
    else:
        names = list(dict.fromkeys(columns))
        unknown = [n for n in names if n not in ref_kinds and n not in cur_kinds]
        if unknown:
            raise InvalidInputError(f"column(s) {unknown} are in neither side; reference has {list(ref_kinds)[:40]}")
    out = []
    for n in names:
        rk, ck = ref_kinds.get(n), cur_kinds.get(n)
        if n in categorical:
            rk, ck = ("categorical" if rk else None), ("categorical" if ck else None)
        c = _Col(n, rk or ck or "other")
        if rk is None or ck is None:
            c.status = "missing_in_reference" if rk is None else "missing_in_current"
            c.detail = f"the {'reference' if rk is None else 'current data'} has no column '{n}'"
        elif rk != ck:
            c.status, c.kind = "type_mismatch", rk
            c.detail = (f"reference is {ref_types.get(n, rk)} ({rk}), current is {cur_types.get(n, ck)} ({ck}): fix "
                        f"the types, or pass categorical=['{n}'] to compare the values as categories")  # fmt: skip
        elif rk not in ("numeric", "categorical"):
            c.status, c.detail = "unsupported", f"{ref_types.get(n, rk)} columns ({rk}) are not compared for drift"
        out.append(c)
    return out


def _check_args(method: Any, threshold: Any, correction: str | None, drift_share: float) -> None:
    methods = list(method.values()) if isinstance(method, Mapping) else [method]
    bad = [m for m in methods if m != "auto" and m not in METHODS]
    if bad:
        raise InvalidInputError(f"unknown drift method(s) {bad}: use 'auto' or one of {list(METHODS)}")
    if correction is not None and correction not in CORRECTIONS:
        raise InvalidInputError(f"correction must be None or one of {list(CORRECTIONS)}, got {correction!r}")
    if not 0 < drift_share <= 1:
        raise InvalidInputError(f"drift_share must be in (0, 1], got {drift_share!r}")
    thresholds = threshold.values() if isinstance(threshold, Mapping) else [threshold]
    if any(t is not None and (not isinstance(t, int | float) or t < 0) for t in thresholds):
        raise InvalidInputError("threshold must be a non-negative number, or a dict of column/method → number")


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    method: str | Mapping[str, str] = "auto",
    *,
    engine: Engine | None = None,
    threshold: float | Mapping[str, float] | None = None,
    correction: str | None = None,
    drift_share: float = 0.5,
    categorical: Sequence[str] | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column; see the module docstring for the methods.

    ``reference``/``current``: a path, glob or folder (Parquet/CSV/JSON), a pandas DataFrame, an Arrow table, or
    with ``engine=`` a table name or a SELECT; ``reference`` may also be a stored profile. ``columns``: which
    (default: every numeric, categorical and boolean column of either side). ``method``: ``"auto"``, one method,
    or a dict column → method (others auto). ``threshold``: one number, or a dict keyed by column or method
    (defaults: 0.05 for p-values, 0.1 for distances and PSI). ``correction``: ``"bonferroni"``, ``"holm"`` or
    ``"bh"`` across the p-value columns. ``drift_share``: the dataset drifts when at least this share of the
    compared columns drifts. ``categorical``: numeric columns to compare as categories.

    Bad columns do not raise: they get a status (``missing_in_current``, ``type_mismatch``, ``empty``,
    ``all_null``...) and nan statistics. Unknown methods or arguments raise :class:`InvalidInputError`.

    >>> import pandas as pd
    >>> drift(pd.DataFrame({"x": [1.0, 2, 3] * 50}), pd.DataFrame({"x": [7.0, 8, 9] * 50})).dataset_drifted
    True
    """
    _check_args(method, threshold, correction, drift_share)
    if columns is not None and (isinstance(columns, str) or not all(isinstance(c, str) for c in columns)):
        raise InvalidInputError("columns must be a list of column names")
    profile = _is_profile(reference)
    with ExitStack() as stack:
        cur = stack.enter_context(bind(current, engine, name="current"))
        srcs = {"cur": cur}
        cur_kinds = {n: _kind(t) for n, t in cur.columns.items()}
        if profile:
            ref_kinds, by_name = _profile_kinds(reference)
            ref_types = {n: getattr(p, "dtype", ref_kinds[n]) for n, p in by_name.items()}
        else:
            srcs["ref"] = stack.enter_context(bind(reference, engine, name="reference"))
            ref_kinds = {n: _kind(t) for n, t in srcs["ref"].columns.items()}
            ref_types = srcs["ref"].columns
        cols = _plan(ref_kinds, cur_kinds, ref_types, cur.columns, columns, set(categorical or ()))
        live = [c for c in cols if c.status == "ok"]
        if profile:
            _from_profile(live, by_name)
        else:
            _check_empty(live, _stats(srcs["ref"], live, "ref"), "reference")
        _check_empty(live, _stats(cur, live, "cur"), "current data")
        live = [c for c in live if c.status == "ok"]
        for c in live:
            _set_grid(c)
        nums = [(j, c) for j, c in enumerate(live) if c.kind == "numeric"]
        cats = [(j, c) for j, c in enumerate(live) if c.kind == "categorical"]
        for side, src in srcs.items():
            _histograms(src, nums, side)
            _categories(src, cats, side)
        _refine(srcs, nums)
    results = [_compare(c, _method_for(c.name, method), threshold) for c in cols]
    return _report(results, drift_share, correction)


def _from_profile(cols: list[_Col], by_name: dict[str, Any]) -> None:
    for c in cols:
        p = c.profile = by_name[c.name]
        if c.kind == "numeric":
            c.ref.n = int(sum(p.histogram_counts or ()))
            n = c.ref.n  # the profile's std is the sample one (ddof=1); Evidently norms by ddof=0
            c.ref.std = float(p.std) * math.sqrt((n - 1) / n) if p.std is not None and n > 1 else 0.0
            if not p.histogram_edges or len(p.histogram_edges) < 2:
                c.ref.n = 0
        else:
            c.ref.n = int(sum(n for _, n in (p.top_values or ())) + (p.other_count or 0))


def _check_empty(cols: list[_Col], n_rows: int, label: str) -> None:
    side = "ref" if label == "reference" else "cur"
    for c in cols:
        if c.status != "ok":
            continue
        if n_rows == 0:
            c.status, c.detail = "empty", f"the {label} has no rows"
        elif getattr(c, side).n == 0:
            c.status, c.detail = "all_null", f"'{c.name}' has no non-null (finite) values in the {label}"


def _set_grid(c: _Col) -> None:
    if c.kind != "numeric":
        return
    if c.profile is not None:
        edges = c.profile.histogram_edges
        c.lo, c.hi = float(edges[0]), float(edges[-1])
        c.k = (len(edges) - 1) * math.ceil(FINE_BINS / (len(edges) - 1))
        return
    c.lo, c.hi = min(c.ref.lo, c.cur.lo), max(c.ref.hi, c.cur.hi)
    c.exact = max(c.ref.n, c.cur.n) <= EXACT_MAX or c.hi <= c.lo
    k = st.sturges_bins(c.ref.n + c.cur.n)
    c.k = k * math.ceil(FINE_BINS / k)  # fine bins nest inside Evidently's Sturges bins


def _method_for(name: str, method: str | Mapping[str, str]) -> str:
    return method.get(name, "auto") if isinstance(method, Mapping) else method


def _threshold_for(name: str, method: str, threshold: Any) -> float:
    if isinstance(threshold, Mapping):
        threshold = threshold.get(name, threshold.get(method))
    return DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)


def _report(results: list[ColumnDrift], drift_share: float, correction: str | None) -> DriftReport:
    if correction:
        idx = [i for i, r in enumerate(results) if r.status == "ok" and r.method in P_VALUE_METHODS]
        adjusted = st.adjust_pvalues([results[i].p_value for i in idx], correction)
        for i, p in zip(idx, adjusted, strict=True):
            r = results[i]
            note = f"p = {r.p_value:.3g} before the {correction} correction"
            results[i] = replace(r, p_value=float(p), drifted=bool(p < r.threshold),
                                 detail="; ".join(x for x in (r.detail, note) if x))  # fmt: skip
    ok = [r for r in results if r.status == "ok"]
    share = sum(r.drifted for r in ok) / len(ok) if ok else math.nan
    return DriftReport(tuple(results), share, bool(ok) and share >= drift_share, drift_share, correction)


def prediction_drift(
    reference: Any, current: Any, column: str = "score", method: str = "auto", **kwargs: Any
) -> ColumnDrift:
    """Drift of a model's scores (or predicted labels): :func:`drift` on that one column."""
    return drift(reference, current, [column], {column: method}, **kwargs).columns[0]


def target_drift(
    reference: Any, current: Any, column: str = "target", method: str = "auto", **kwargs: Any
) -> ColumnDrift:
    """Drift of the observed target (label drift): :func:`drift` on that one column."""
    return drift(reference, current, [column], {column: method}, **kwargs).columns[0]
