"""assay.data.profile: column statistics in two scans, JSON round trip, merging partitions."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.data.profile import QUANTILES, ColumnProfile, Profile, kind_of, profile
from assay.engine import Engine
from assay.errors import InvalidInputError, NotFoundError


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, n)
    x[::10] = np.nan  # 10% nulls
    return pd.DataFrame(
        {
            "x": x,
            "i": rng.integers(0, 5, n),
            "s": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "b": rng.random(n) < 0.25,
            "t": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


def test_kinds_of_engine_types() -> None:
    assert kind_of("BIGINT") == kind_of("integer") == kind_of("decimal(10,2)") == "numeric"
    assert kind_of("text") == kind_of("VARCHAR") == kind_of("string") == "categorical"
    assert kind_of("boolean") == "boolean"
    assert kind_of("DATE") == kind_of("timestamp without time zone") == kind_of("TIMESTAMP_NS") == "datetime"
    assert kind_of("STRUCT(a INTEGER)") == kind_of("INTEGER[]") == kind_of("BLOB") == "other"


def test_profile_matches_pandas_and_numpy() -> None:
    df = _frame()
    p = profile(df, bins=10, top=5)
    assert p.rows == len(df) and p.names == list(df.columns)
    x = p.column("x")
    values = df["x"].dropna().to_numpy()
    assert (x.kind, x.count, x.nulls) == ("numeric", len(df), int(df["x"].isna().sum()))
    assert x.min == pytest.approx(values.min()) and x.max == pytest.approx(values.max())
    assert x.mean == pytest.approx(values.mean()) and x.std == pytest.approx(values.std(ddof=1))
    assert list(x.quantiles) == [k for k, _ in QUANTILES]
    for key, q in QUANTILES:  # approximate (t-digest): within a small share of the spread
        assert x.quantiles[key] == pytest.approx(np.quantile(values, q), abs=0.05 * values.std())
    counts, edges = np.histogram(values, bins=10)
    assert x.histogram_edges == pytest.approx(tuple(edges))
    assert x.histogram_counts == tuple(counts)
    assert sum(x.histogram_counts) == x.non_null
    assert x.top_values == () and x.other_count == x.non_null  # many distinct values: no top list
    assert abs(x.distinct - len(values)) <= 0.05 * len(values)  # approximate


def test_top_values_for_categorical_boolean_and_small_numeric() -> None:
    df = _frame()
    p = profile(df, top=2)
    s = p.column("s")
    expected = df["s"].value_counts()
    assert s.kind == "categorical" and s.top_values == tuple(
        zip(expected.index[:2], expected.to_numpy()[:2], strict=True)
    )
    assert s.other_count == int(expected.iloc[2:].sum()) and s.distinct == 3
    assert s.min is None and math.isnan(s.mean) and s.quantiles == {} and s.histogram_edges == ()
    b = p.column("b")
    assert b.kind == "boolean" and dict(b.top_values) == {True: int(df.b.sum()), False: int((~df.b).sum())}
    assert b.mean == pytest.approx(df.b.mean())
    i = profile(df, top=10).column("i")  # 5 distinct values <= top: listed, exact distinct
    assert dict(i.top_values) == df["i"].value_counts().to_dict() and i.other_count == 0 and i.distinct == 5
    assert all(isinstance(v, int) for v, _ in i.top_values)
    t = p.column("t")
    assert t.kind == "datetime" and t.min == dt.datetime(2024, 1, 1) and t.max == df.t.max().to_pydatetime()


def test_empty_and_all_null_tables_give_nan_not_errors() -> None:
    empty = profile(pd.DataFrame({"x": pd.Series([], dtype="float64"), "s": pd.Series([], dtype="str")}))
    assert empty.rows == 0
    x = empty.column("x")
    assert (x.count, x.nulls, x.distinct, x.min, x.histogram_edges) == (0, 0, 0, None, ())
    assert math.isnan(x.mean) and math.isnan(x.std) and all(math.isnan(v) for v in x.quantiles.values())
    assert "empty" in empty.summary()
    nulls = profile(pa.table({"x": pa.array([None, None], pa.float64()), "s": pa.array([None, None], pa.string())}))
    assert nulls.column("x").nulls == 2 and nulls.column("s").top_values == ()
    assert "Entirely empty: x, s" in nulls.summary()
    json.dumps(nulls.to_dict())  # nan -> null, still valid JSON


def test_constant_column_histogram_like_numpy() -> None:
    c = profile(pd.DataFrame({"x": [3.0] * 7}), bins=4).column("x")
    counts, edges = np.histogram([3.0] * 7, bins=4)
    assert c.histogram_edges == pytest.approx(tuple(edges)) and c.histogram_counts == tuple(counts)
    assert c.std == 0 and c.distinct == 1


def test_json_round_trip(tmp_path: Path) -> None:
    p = profile(_frame(300), bins=5, top=3)
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(p.to_dict()))
    back = Profile.from_dict(json.loads(path.read_text()))
    assert back.rows == p.rows and back.names == p.names and back.notes == p.notes
    for a, b in zip(p.columns, back.columns, strict=True):
        assert (a.kind, a.count, a.nulls, a.distinct, a.histogram_counts, a.top_values) == (
            b.kind, b.count, b.nulls, b.distinct, b.histogram_counts, b.top_values,
        )  # fmt: skip
        assert a.histogram_edges == b.histogram_edges and a.min == b.min and a.max == b.max
    assert back.column("t").min == dt.datetime(2024, 1, 1)
    with pytest.raises(InvalidInputError, match="missing"):
        ColumnProfile.from_dict({"name": "x"})


def test_merge_partitions_is_exact_for_moments_and_counts() -> None:
    df = _frame(3000, seed=3)
    whole = profile(df, top=5)
    a, b = df.iloc[:1000], df.iloc[1000:]
    edges = {"x": whole.column("x").histogram_edges, "i": whole.column("i").histogram_edges}
    merged = profile(a, top=5, edges=edges).merge(profile(b, top=5, edges=edges))
    assert merged.rows == whole.rows
    for name in ("x", "i", "b"):
        m, w = merged.column(name), whole.column(name)
        assert (m.count, m.nulls) == (w.count, w.nulls)
        assert m.mean == pytest.approx(w.mean, rel=1e-12) and m.std == pytest.approx(w.std, rel=1e-9)
    mx, wx = merged.column("x"), whole.column("x")
    assert (mx.min, mx.max) == (wx.min, wx.max)
    assert mx.histogram_counts == wx.histogram_counts  # same edges: exact
    for key, _ in QUANTILES:
        assert mx.quantiles[key] == pytest.approx(wx.quantiles[key], abs=0.25)
    assert merged.column("s").top_values == whole.column("s").top_values  # every value listed: exact
    assert merged.column("s").distinct == 3
    assert any("quantiles are approximate" in n for n in merged.notes)
    # different edges: the histogram is dropped and the notes say so
    dropped = profile(a).merge(profile(b)).column("x")
    assert dropped.histogram_edges == () and dropped.histogram_counts == ()
    with pytest.raises(InvalidInputError, match="different columns"):
        profile(a, columns=["x"]).merge(profile(b, columns=["i"]))


def test_columns_edges_and_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(100), preserve_index=False), path)
    p = profile(str(path), columns=["i", "s"])
    assert p.names == ["i", "s"] and p.source == str(path)
    clamped = profile(str(path), columns=["i"], edges={"i": [1, 2, 3]}).column("i")
    assert clamped.histogram_edges == (1.0, 2.0, 3.0) and sum(clamped.histogram_counts) == 100
    with pytest.raises(InvalidInputError, match="'nope' not in"):
        profile(str(path), columns=["nope"])
    with pytest.raises(InvalidInputError, match="bins"):
        profile(str(path), bins=0)
    with pytest.raises(InvalidInputError, match="increasing"):
        profile(str(path), edges={"i": [3, 1]})
    with pytest.raises(NotFoundError, match="columns: i, s"):
        p.column("x")


def test_profile_on_each_backend(backend_engine: Engine) -> None:
    df = _frame(500, seed=7)
    backend_engine.register("prof_src", df)
    p = profile("prof_src", engine=backend_engine, bins=8, top=3)
    x = p.column("x")
    values = df["x"].dropna().to_numpy()
    assert (x.count, x.nulls) == (500, 50) and x.mean == pytest.approx(values.mean())
    assert x.std == pytest.approx(values.std(ddof=1)) and x.histogram_counts == tuple(np.histogram(values, 8)[0])
    assert x.quantiles["p50"] == pytest.approx(np.median(values), abs=0.2)
    s = p.column("s")
    assert s.kind == "categorical" and s.top_values[0] == ("a", int((df.s == "a").sum()))
    b = p.column("b")
    assert b.kind == "boolean" and dict(b.top_values)[True] == int(df.b.sum())
    assert p.column("i").top_values == () and p.column("i").distinct == 5 and p.column("t").kind == "datetime"
