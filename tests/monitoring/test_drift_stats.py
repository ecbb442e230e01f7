"""The pure drift statistics against scipy / statsmodels on random data: exact where the buckets are exact,
within the stated error bound where they are binned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js
from statsmodels.stats.multitest import multipletests

from assay.monitoring import _drift_stats as st

RNG = np.random.default_rng(20240601)


def _binned(x: np.ndarray, edges: np.ndarray) -> st.Buckets:
    """What the engine returns for a histogram: per bin its count and observed min / max."""
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    keys = np.unique(idx)
    return st.Buckets.of(
        [x[idx == k].min() for k in keys], [x[idx == k].max() for k in keys], [int((idx == k).sum()) for k in keys]
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (RNG.normal(size=300), RNG.normal(0.2, size=400)),  # exact p-value regime
        (RNG.integers(0, 20, 800).astype(float), RNG.integers(0, 22, 700).astype(float)),  # ties
        (RNG.exponential(size=15_000), RNG.exponential(1.02, size=12_000)),  # asymptotic p-value regime
    ],
)
def test_exact_buckets_match_scipy(a: np.ndarray, b: np.ndarray) -> None:
    ref, cur = st.Buckets.from_sample(a), st.Buckets.from_sample(b)
    assert ref.exact and cur.exact
    d, p = st.ks_test(ref, cur)
    res = stats.ks_2samp(a, b)
    assert d == pytest.approx(res.statistic, abs=1e-12)
    assert p == pytest.approx(res.pvalue, rel=1e-9, abs=1e-300)
    assert st.ks_statistic(ref, cur) == pytest.approx(res.statistic, abs=1e-12)
    assert st.wasserstein(ref, cur) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    assert st.wasserstein_norm(ref, cur, float(np.std(a))) == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a), rel=1e-9
    )
    assert st.ks_error_bound(ref, cur) == 0 and st.wasserstein_error_bound(ref, cur) == 0


@pytest.mark.parametrize("bins", [50, 400])
def test_binned_buckets_stay_within_their_error_bounds(bins: int) -> None:
    a, b = RNG.lognormal(size=20_000), RNG.lognormal(0.05, size=25_000)
    edges = np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), bins + 1)
    ref, cur = _binned(a, edges), _binned(b, edges)
    assert not ref.exact
    d_true = stats.ks_2samp(a, b).statistic
    w_true = stats.wasserstein_distance(a, b)
    assert abs(st.ks_statistic(ref, cur) - d_true) <= st.ks_error_bound(ref, cur)
    assert abs(st.wasserstein(ref, cur) - w_true) <= st.wasserstein_error_bound(ref, cur)
    if bins == 400:  # fine bins: close in practice, far inside the worst case
        assert st.wasserstein(ref, cur) == pytest.approx(w_true, rel=0.02)
        assert st.ks_statistic(ref, cur) == pytest.approx(d_true, abs=0.005)


def test_identical_and_disjoint_samples() -> None:
    same = st.Buckets.from_sample([1.0, 2.0, 3.0])
    assert st.ks_statistic(same, same) == 0 and st.wasserstein(same, same) == 0
    far = st.Buckets.from_sample([11.0, 12.0, 13.0])
    assert st.ks_statistic(same, far) == 1
    assert st.wasserstein(same, far) == pytest.approx(10.0)
    assert st.wasserstein_norm(same, same, 0.0) == 0  # std floored at 0.001, no division by zero


def test_jensenshannon_psi_chisquare_match_references() -> None:
    r = RNG.integers(1, 500, 12).astype(float)
    c = RNG.integers(1, 500, 12).astype(float)
    assert st.jensenshannon(r, c) == pytest.approx(scipy_js(r / r.sum(), c / c.sum()), rel=1e-12)
    p, q = r / r.sum(), c / c.sum()
    assert st.psi(r, c) == pytest.approx(((p - q) * np.log(p / q)).sum(), rel=1e-12)
    stat, pval = st.chisquare_test(r, c)
    ref = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    assert (stat, pval) == (pytest.approx(ref.statistic, rel=1e-12), pytest.approx(ref.pvalue, rel=1e-9))


def test_zero_shares_psi_fill_and_new_categories() -> None:
    r, c = np.array([50.0, 50.0, 0.0]), np.array([40.0, 40.0, 20.0])
    fill = 0.0001  # Evidently: the smallest non-zero share is > 0.0001, so zeros become 0.0001
    p, q = np.array([0.5, 0.5, fill]), np.array([0.4, 0.4, 0.2])
    assert st.psi(r, c) == pytest.approx(((p - q) * np.log(p / q)).sum())
    assert st.jensenshannon(r, c) == pytest.approx(scipy_js(r / r.sum(), c / c.sum()))
    stat, pval = st.chisquare_test(r, c)  # a category only in the current sample: no division by zero
    assert pval < 1e-3 and math.isfinite(stat)
    assert st.chisquare_test(np.array([10.0, 0.0]), np.array([12.0, 0.0])) == (0.0, 1.0)
    assert math.isnan(st.jensenshannon(np.zeros(2), np.ones(2)))


def test_sturges_matches_numpy() -> None:
    for n in (1, 2, 7, 1000, 1024, 123_457, 2_000_000):
        x = RNG.normal(size=min(n, 5000))
        x = np.resize(x, n)
        assert st.sturges_bins(n) == len(np.histogram_bin_edges(x, bins="sturges")) - 1


def test_align_counts_keeps_reference_order_and_adds_new_keys() -> None:
    keys, r, c = st.align_counts({"a": 2, "b": 3}, {"b": 1, "z": 4})
    assert keys == ["a", "b", "z"] and r.tolist() == [2, 3, 0] and c.tolist() == [0, 1, 4]


@pytest.mark.parametrize(("ours", "theirs"), [("bonferroni", "bonferroni"), ("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_pvalues(ours: str, theirs: str) -> None:
    p = RNG.uniform(size=8) ** 3
    np.testing.assert_allclose(st.adjust_pvalues(p, ours), multipletests(p, method=theirs)[1])
    out = st.adjust_pvalues([0.01, math.nan, 0.02], ours)
    assert math.isnan(out[1]) and out[0] <= 0.04
