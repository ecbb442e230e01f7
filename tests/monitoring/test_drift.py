"""assay.monitoring.drift end to end on real engines: agreement with scipy, A/A false-positive rate, known shifts
caught, bad input reported per column, a stored profile as the reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js

from assay.data.profile import profile
from assay.engine import Engine
from assay.errors import InvalidInputError
from assay.monitoring.drift import ColumnDrift, DriftReport, drift, prediction_drift, target_drift

RNG = np.random.default_rng(7)


def _evidently_js(a: np.ndarray, b: np.ndarray) -> float:
    """Evidently's numeric Jensen-Shannon: Sturges bins over both samples, shares per bin."""
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    return float(scipy_js(np.histogram(a, edges)[0] / len(a), np.histogram(b, edges)[0] / len(b)))


@pytest.fixture(scope="module")
def big() -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 60_000
    ref = pd.DataFrame({
        "normal": RNG.normal(size=n), "skewed": RNG.lognormal(size=n),
        "outlier": np.r_[RNG.normal(size=n - 1), 1e9], "counts": RNG.poisson(4, n).astype(float),
    })  # fmt: skip
    cur = pd.DataFrame({
        "normal": RNG.normal(0.03, size=n), "skewed": RNG.lognormal(0.02, size=n),
        "outlier": RNG.normal(size=n), "counts": RNG.poisson(4.1, n).astype(float),
    })  # fmt: skip
    return ref, cur


def test_exact_path_equals_scipy() -> None:
    a, b = RNG.normal(size=900), RNG.normal(0.15, 1.1, size=700)
    ref, cur = pd.DataFrame({"x": a}), pd.DataFrame({"x": b})
    ks = drift(ref, cur).column("x")
    assert ks.method == "ks" and ks.detail == ""
    res = stats.ks_2samp(a, b)
    assert ks.statistic == pytest.approx(res.statistic, abs=1e-12) and ks.p_value == pytest.approx(res.pvalue)
    w = drift(ref, cur, method="wasserstein").column("x")
    assert w.statistic == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a), rel=1e-9)
    js = drift(ref, cur, method="jensenshannon").column("x")
    assert js.statistic == pytest.approx(_evidently_js(a, b), rel=1e-9)


def test_binned_path_agrees_with_scipy(big: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = big
    ks = drift(ref, cur, method="ks")
    w = drift(ref, cur, method="wasserstein")
    js = drift(ref, cur, method="jensenshannon")
    for name in ref.columns:
        a, b = ref[name].to_numpy(), cur[name].to_numpy()
        d = stats.ks_2samp(a, b)
        assert ks.column(name).statistic == pytest.approx(d.statistic, abs=0.002), name
        assert w.column(name).statistic == pytest.approx(
            stats.wasserstein_distance(a, b) / np.std(a), rel=0.01, abs=1e-4
        ), name
        assert js.column(name).statistic == pytest.approx(_evidently_js(a, b), rel=1e-6, abs=1e-9), name
    assert "approximate" in ks.column("skewed").detail
    assert ks.column("counts").detail == ""  # integer values: every bin holds one value, so exact
    assert ks.column("counts").p_value == pytest.approx(stats.ks_2samp(ref["counts"], cur["counts"]).pvalue)


def test_categorical_statistics_match_scipy() -> None:
    ref = pd.DataFrame({"c": RNG.choice(list("abcde"), 800, p=[0.4, 0.3, 0.15, 0.1, 0.05])})
    cur = pd.DataFrame({"c": RNG.choice(list("abcde"), 600, p=[0.35, 0.3, 0.2, 0.1, 0.05])})
    r = ref["c"].value_counts().sort_index()
    c = cur["c"].value_counts().sort_index()
    chi = drift(ref, cur).column("c")
    assert chi.method == "chisquare"
    assert chi.p_value == pytest.approx(stats.chi2_contingency(np.vstack([r, c]), correction=False).pvalue)
    js = drift(ref, cur, method="jensenshannon").column("c")
    assert js.statistic == pytest.approx(scipy_js(r / r.sum(), c / c.sum()))


def test_aa_false_positive_rate_near_the_threshold() -> None:
    cols = 100  # per kind; Arrow tables (DuckDB scans them faster than wide DataFrames)
    ref = pa.table({**{f"x{i}": RNG.normal(size=400) for i in range(cols)},
                    **{f"c{i}": RNG.choice(list("abcd"), 400) for i in range(cols)}})  # fmt: skip
    cur = pa.table({**{f"x{i}": RNG.normal(size=300) for i in range(cols)},
                    **{f"c{i}": RNG.choice(list("abcd"), 300) for i in range(cols)}})  # fmt: skip
    rep = drift(ref, cur)
    for kind in ("numeric", "categorical"):
        flagged = sum(c.drifted for c in rep.columns if c.kind == kind)
        assert 1 <= flagged <= 12, (kind, flagged)  # expected 5 of 100 at p < 0.05 (binomial sd ~2.2)
    assert not rep.dataset_drifted
    corrected = drift(ref, cur, correction="bonferroni")
    assert sum(c.drifted for c in corrected.columns) <= 2


def test_large_aa_and_known_shifts_are_caught() -> None:
    n = 20_000
    ref = pd.DataFrame({"same": RNG.normal(size=n), "shift": RNG.normal(size=n), "cat": RNG.choice(["a", "b"], n)})
    cur = pd.DataFrame({
        "same": RNG.normal(size=n), "shift": RNG.normal(0.5, size=n),
        "cat": RNG.choice(["a", "b", "new"], n, p=[0.4, 0.4, 0.2]),
    })  # fmt: skip
    rep = drift(ref, cur)
    assert [c.method for c in rep.columns] == ["wasserstein", "wasserstein", "jensenshannon"]
    assert rep.drifted_columns == ("shift", "cat")
    assert rep.dataset_drifted and rep.share_drifted == pytest.approx(2 / 3)
    assert "new" in rep.column("cat").detail
    small = drift(ref.head(500), cur.head(500), columns=["cat"]).column("cat")
    assert small.method == "chisquare" and small.drifted and "not in the reference" in small.detail
    psi = drift(ref, cur, method="psi")
    assert psi.column("shift").drifted and "major" in psi.column("shift").detail
    assert not psi.column("same").drifted


def test_bad_input_is_a_status_not_a_crash(tmp_path: Path) -> None:
    ref_csv, cur_csv = tmp_path / "ref.csv", tmp_path / "cur.csv"
    ref_csv.write_text("a,b,only_ref,nulls,s\n" + "".join(f"{i},{i % 3},1,,x\n" for i in range(50)))
    cur_csv.write_text(
        "a,b,only_cur,nulls,s\n" + "".join(f"{i},{'oops' if i == 7 else i % 3},1,,y\n" for i in range(50))
    )
    rep = drift(str(ref_csv), str(cur_csv), columns=["a", "b", "only_ref", "only_cur", "nulls", "s"])
    status = {c.column: c.status for c in rep.columns}
    assert status == {
        "a": "ok", "b": "type_mismatch", "only_ref": "missing_in_current", "only_cur": "missing_in_reference",
        "nulls": "all_null", "s": "ok",
    }  # fmt: skip
    bad = rep.column("b")
    assert math.isnan(bad.statistic) and not bad.drifted and "categorical=['b']" in bad.detail
    assert rep.share_drifted == pytest.approx(0.5)  # of the two comparable columns, 's' drifted
    as_cats = drift(str(ref_csv), str(cur_csv), columns=["b"], categorical=["b"]).column("b")
    assert as_cats.status == "ok" and as_cats.kind == "categorical" and "oops" in as_cats.detail
    empty = drift(pd.DataFrame({"a": [1.0, 2.0]}), pd.DataFrame({"a": pd.Series([], dtype=float)}))
    assert empty.column("a").status == "empty" and math.isnan(empty.share_drifted) and not empty.dataset_drifted
    assert "not compared" in empty.summary().lower()


def test_nan_and_inf_are_ignored_like_nulls() -> None:
    a = np.r_[RNG.normal(size=300), [np.nan, np.inf, -np.inf]]
    b = np.r_[RNG.normal(size=300), [np.nan] * 10]
    col = drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).column("x")
    assert (col.ref_count, col.cur_count) == (300, 300)
    assert col.statistic == pytest.approx(stats.ks_2samp(a[:300], b[:300]).statistic)


def test_arguments_are_checked() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(InvalidInputError, match="unknown drift method"):
        drift(df, df, method="t-test")
    with pytest.raises(InvalidInputError, match="correction"):
        drift(df, df, correction="sidak")
    with pytest.raises(InvalidInputError, match="needs a numeric column"):
        drift(df, df, method={"s": "ks"})
    with pytest.raises(InvalidInputError, match="neither side"):
        drift(df, df, columns=["nope"])
    with pytest.raises(InvalidInputError, match="drift_share"):
        drift(df, df, drift_share=0)


def test_thresholds_by_column_and_method() -> None:
    n = 5000
    ref, cur = pd.DataFrame({"x": RNG.normal(size=n)}), pd.DataFrame({"x": RNG.normal(0.08, size=n)})
    base = drift(ref, cur).column("x")
    assert not base.drifted and base.threshold == 0.1
    assert drift(ref, cur, threshold={"x": 0.05}).column("x").drifted
    assert drift(ref, cur, threshold={"wasserstein": 0.05}).column("x").drifted
    assert drift(ref, cur, threshold=0.05).column("x").threshold == 0.05


def test_report_results_and_helpers() -> None:
    ref = pd.DataFrame({"score": RNG.uniform(size=3000), "target": RNG.integers(0, 2, 3000)})
    cur = pd.DataFrame({"score": RNG.uniform(size=3000) ** 2, "target": RNG.integers(0, 2, 3000)})
    p = prediction_drift(ref, cur)
    assert isinstance(p, ColumnDrift) and p.column == "score" and p.drifted
    t = target_drift(ref, cur, method="psi")
    assert t.method == "psi" and not t.drifted
    rep = drift(pa.Table.from_pandas(ref), cur)
    assert isinstance(rep, DriftReport) and rep.column("target").method == "jensenshannon"  # 2 values: categories
    json.dumps(rep.to_dict())
    assert "score" in rep.summary() and "drifted" in p.summary()
    assert "<table>" in rep._repr_html_() and len(rep.to_frame()) == 2


def test_profile_as_reference(big: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = big
    ref = ref.assign(cat=RNG.choice(list("abc"), len(ref)), flag=RNG.uniform(size=len(ref)) < 0.3)
    cur = cur.assign(cat=RNG.choice(list("abcd"), len(cur)), flag=RNG.uniform(size=len(cur)) < 0.3)
    prof = profile(ref, bins=50)
    from_rows = drift(ref, cur, columns=["normal", "cat", "flag", "counts"])
    from_prof = drift(prof, cur, columns=["normal", "cat", "flag", "counts"])
    for name in ("normal", "counts", "cat", "flag"):
        a, b = from_rows.column(name), from_prof.column(name)
        assert b.status == "ok" and a.method == b.method, name
        assert b.statistic == pytest.approx(a.statistic, abs=0.01), name
        assert b.ref_count == a.ref_count and b.cur_count == a.cur_count
    assert "approximate" in from_prof.column("normal").detail
    assert from_prof.column("cat").drifted and "not in the reference" in from_prof.column("cat").detail
    missing = drift(prof, cur.drop(columns=["normal"]), columns=["normal"]).column("normal")
    assert missing.status == "missing_in_current"


def test_on_every_engine(backend_engine: Engine) -> None:
    rng = np.random.default_rng(3)
    n = 30_000
    ref = pd.DataFrame({"x": rng.gamma(2.0, size=n), "k": rng.integers(0, 50, n), "s": rng.choice(list("pqr"), n)})
    cur = pd.DataFrame({"x": rng.gamma(2.2, size=n), "k": rng.integers(0, 50, n), "s": rng.choice(list("pqrs"), n)})
    backend_engine.register("drift_ref", ref)
    backend_engine.register("drift_cur", cur)
    on_engine = drift("drift_ref", "drift_cur", engine=backend_engine, method={"x": "ks"})
    local = drift(ref, cur, method={"x": "ks"})
    for a, b in zip(on_engine.columns, local.columns, strict=True):
        assert (a.column, a.method, a.status, a.drifted) == (b.column, b.method, b.status, b.drifted)
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9, abs=1e-12), a.column
    assert on_engine.column("x").statistic == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).statistic, abs=0.002)
    sub = drift("select x from drift_ref where k < 25", "drift_cur", engine=backend_engine, columns=["x"])
    assert sub.column("x").ref_count == int((ref["k"] < 25).sum())
