"""Holm and Benjamini–Hochberg adjustments, checked against statsmodels' multipletests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from assay.errors import InvalidInputError
from assay.experiments import stats


@pytest.mark.parametrize(("method", "reference"), [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_matches_statsmodels(method: str, reference: str) -> None:
    rng = np.random.default_rng(90)
    for _ in range(10):  # statsmodels' holm runs gc.collect() on every call, which is slow inside pytest
        m = int(rng.integers(1, 40))
        p = np.concatenate([rng.uniform(0, 1, m), rng.uniform(0, 0.01, int(rng.integers(0, 5)))])
        p[rng.integers(0, p.size)] = p[0]  # ties
        r = stats.adjust_pvalues(p, method=method, alpha=0.05)
        reject, adjusted, _, _ = multipletests(p, alpha=0.05, method=reference)
        np.testing.assert_allclose(r.adjusted, adjusted, rtol=1e-12, atol=1e-15)
        assert list(r.reject) == list(reject)
        assert r.pvalues == tuple(p.tolist())


def test_match_textbook_definitions() -> None:
    """Holm: step-down max of (m − j + 1)·p(j); BH: step-up min of m·p(j)/j (Holm 1979; Benjamini & Hochberg 1995)."""
    rng = np.random.default_rng(91)
    for _ in range(200):
        p = rng.uniform(0, 0.2, int(rng.integers(1, 30)))
        m, order = p.size, np.argsort(p)
        s = p[order]
        holm = [min(1.0, max((m - j) * s[j] for j in range(i + 1))) for i in range(m)]
        bh = [min(1.0, min(m * s[j] / (j + 1) for j in range(i, m))) for i in range(m)]
        np.testing.assert_allclose(np.array(stats.adjust_pvalues(p, "holm").adjusted)[order], holm, rtol=1e-12)
        np.testing.assert_allclose(np.array(stats.adjust_pvalues(p, "bh").adjusted)[order], bh, rtol=1e-12)


def test_nan_pvalues_are_left_out() -> None:
    r = stats.adjust_pvalues([0.01, math.nan, 0.02], method="holm")
    assert r.adjusted[0] == pytest.approx(0.02) and math.isnan(r.adjusted[1]) and r.adjusted[2] == pytest.approx(0.02)
    assert r.reject == (True, False, True) and "1 missing p-value was left out" in r.warnings[0]
    assert r.to_dict()["adjusted"][1] is None
    assert stats.adjust_pvalues([], method="bh").status == "insufficient_data"


def test_summary_and_invalid_input() -> None:
    assert stats.adjust_pvalues([0.001, 0.5], method="bh").summary().startswith("1 of 2 tests remain significant")
    with pytest.raises(InvalidInputError, match="'method' parameter of adjust_pvalues must be one of 'holm', 'bh'"):
        stats.adjust_pvalues([0.1], method="fdr")
    with pytest.raises(InvalidInputError, match=r"must hold values in \[0, 1\]"):
        stats.adjust_pvalues([0.1, 1.2])
