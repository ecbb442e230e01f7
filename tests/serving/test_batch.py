"""Batch scoring: same numbers as the Predictor, Parquet/CSV/engine inputs, typed errors, flat memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from assay.engine import connect
from assay.errors import InvalidInputError, NotFoundError, SchemaMismatchError
from assay.registry.flavors import save_model
from assay.registry.predictor import Predictor
from assay.registry.signature import infer_signature
from assay.serving import _batch_io
from assay.serving.batch import ScoreResult, score
from assay.tracking.client import Client

RNG = np.random.default_rng(5)
FEATURES = [f"f{i}" for i in range(6)]
N = 3_000
X = pd.DataFrame(RNG.normal(size=(N, len(FEATURES))), columns=FEATURES)
Y = (X["f0"] + X["f1"] * X["f2"] + RNG.normal(0, 0.5, N) > 0).astype(int).to_numpy()


def _predictor(model: object, tmp_path: Path, example: pd.DataFrame = X) -> Predictor:
    folder = tmp_path / "model"
    info = save_model(model, folder)
    return Predictor.load(folder, info, signature=infer_signature(example.head(5)), name="churn", version=1)


@pytest.fixture(scope="module")
def lgbm() -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=15, num_leaves=15, verbose=-1).fit(X, Y)


def _table(n: int = N, *, missing: bool = True) -> pa.Table:
    rng = np.random.default_rng(9)
    data = {"customer_id": np.arange(n), **{f: rng.normal(size=n) for f in FEATURES}, "segment": ["a", "b"] * (n // 2)}
    if missing:
        data["f3"][::7] = np.nan  # missing values go to LightGBM as NaN
    return pa.table(data)


def _expected(predictor: Predictor, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    frame = table.to_pandas()
    return predictor.predict(frame), predictor.predict_proba(frame)


def test_parquet_fast_path_matches_predictor(tmp_path: Path, lgbm: lgb.LGBMClassifier) -> None:
    predictor = _predictor(lgbm, tmp_path)
    table = _table()
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=700)
    result = score(
        predictor, tmp_path / "in.parquet", tmp_path / "out.parquet", batch_size=500, passthrough=["customer_id"]
    )
    assert isinstance(result, ScoreResult) and result.fast_path
    assert (result.rows, result.batches) == (N, 6)  # batches of 500 rows, across row groups of 700
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == ["customer_id", "prediction", "probability_0", "probability_1"]
    labels, proba = _expected(predictor, table)
    np.testing.assert_array_equal(out["customer_id"].to_numpy(), np.arange(N))
    np.testing.assert_array_equal(out["prediction"].to_numpy(), labels)
    np.testing.assert_allclose(out["probability_1"].to_numpy(), proba[:, 1], rtol=1e-12)
    np.testing.assert_allclose(out["probability_0"].to_numpy(), proba[:, 0], rtol=1e-12)
    assert result.to_dict()["rows"] == N and "rows/s" in result.summary()
    assert "ScoreResult" in result._repr_html_()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "model", "out.parquet"]  # no temp file left


def test_csv_in_csv_out_and_every_column_passed_through(tmp_path: Path, lgbm: lgb.LGBMClassifier) -> None:
    predictor = _predictor(lgbm, tmp_path)
    table = _table(1_000)
    pacsv.write_csv(table, tmp_path / "in.csv")
    result = score(predictor, str(tmp_path / "in.csv"), tmp_path / "out.csv", overlap=False)
    out = pacsv.read_csv(tmp_path / "out.csv")
    assert out.column_names == [*table.column_names, "prediction", "probability_0", "probability_1"]
    labels, proba = _expected(predictor, table)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), labels)
    np.testing.assert_allclose(out["probability_1"].to_numpy(), proba[:, 1], rtol=1e-9)
    assert result.rows == 1_000


def test_engine_table_and_select(tmp_path: Path, lgbm: lgb.LGBMClassifier) -> None:
    predictor = _predictor(lgbm, tmp_path)
    table = _table()
    with connect() as eng:
        eng.register("customers", table)
        whole = score(predictor, "customers", tmp_path / "all.parquet", engine=eng, batch_size=1_024)
        some = score(
            predictor,
            "select * from customers where segment = 'a'",
            tmp_path / "a.parquet",
            engine=eng,
            passthrough=False,
            probabilities=False,
        )
        with pytest.raises(InvalidInputError, match="pass engine="):
            score(predictor, "customers", tmp_path / "x.parquet")
    assert whole.rows == N and some.rows == N // 2
    out = pq.read_table(tmp_path / "all.parquet").sort_by("customer_id")
    np.testing.assert_allclose(out["probability_1"].to_numpy(), _expected(predictor, table)[1][:, 1], rtol=1e-12)
    assert pq.read_table(tmp_path / "a.parquet").column_names == ["prediction"]


def test_fast_path_for_lightgbm_regressor_and_raw_booster(tmp_path: Path) -> None:
    table = _table(1_500)
    frame = table.to_pandas()
    reg = _predictor(lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, X["f0"] * 3), tmp_path / "reg")
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, Y), num_boost_round=10)
    raw = _predictor(booster, tmp_path / "raw")
    r1 = score(reg, table, tmp_path / "reg.parquet", passthrough=False)
    r2 = score(raw, table, tmp_path / "raw.parquet", passthrough=False)
    assert r1.fast_path and r2.fast_path
    np.testing.assert_allclose(pq.read_table(tmp_path / "reg.parquet")["prediction"].to_numpy(), reg.predict(frame))
    out = pq.read_table(tmp_path / "raw.parquet")
    p1 = raw.predict(frame)  # a binary Booster's predict is the probability of class 1
    np.testing.assert_allclose(out["probability_1"].to_numpy(), p1)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), (p1 > 0.5).astype(int))


def test_general_path_for_sklearn_models(tmp_path: Path) -> None:
    table = _table(800, missing=False)
    frame = table.to_pandas()
    clf = _predictor(LogisticRegression().fit(X, Y), tmp_path / "clf")
    reg = _predictor(LinearRegression().fit(X, X["f0"] * 2), tmp_path / "reg")
    r1 = score(clf, table, tmp_path / "clf.parquet", batch_size=300, passthrough="customer_id")
    r2 = score(reg, frame, tmp_path / "reg.parquet", batch_size=300, prediction_column="spend")
    assert not r1.fast_path and r1.batches == 3
    out = pq.read_table(tmp_path / "clf.parquet")
    np.testing.assert_array_equal(out["prediction"].to_numpy(), clf.predict(frame))
    np.testing.assert_allclose(out["probability_1"].to_numpy(), clf.predict_proba(frame)[:, 1])
    out = pq.read_table(tmp_path / "reg.parquet")
    np.testing.assert_allclose(out["spend"].to_numpy(), reg.predict(frame))
    assert r2.columns[-1] == "spend" and "probability_0" not in r2.columns


def test_bad_input_raises_typed_errors_and_writes_nothing(tmp_path: Path, lgbm: lgb.LGBMClassifier) -> None:
    predictor = _predictor(lgbm, tmp_path)
    table = _table(200)
    with pytest.raises(SchemaMismatchError, match="'f4'") as info:
        score(predictor, table.drop_columns(["f4"]), tmp_path / "o.parquet")
    assert info.value.column == "f4"
    as_text = table.set_column(2, "f1", table["f1"].cast(pa.string()))
    with pytest.raises(SchemaMismatchError, match="column 'f1' holds string"):
        score(predictor, as_text, tmp_path / "o.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1" + b"\0" * 100)
    with pytest.raises(InvalidInputError, match="complete Parquet"):
        score(predictor, tmp_path / "broken.parquet", tmp_path / "o.parquet")
    with pytest.raises(InvalidInputError, match="file not found"):
        score(predictor, tmp_path / "missing.parquet", tmp_path / "o.parquet")
    with pytest.raises(InvalidInputError, match=r"\.parquet or \.csv"):
        score(predictor, table, tmp_path / "o.xlsx")
    with pytest.raises(InvalidInputError, match="would overwrite"):
        score(predictor, table.append_column("prediction", table["f0"]), tmp_path / "o.parquet")
    with pytest.raises(InvalidInputError, match="passthrough column 'nope'"):
        score(predictor, table, tmp_path / "o.parquet", passthrough=["nope"])
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(InvalidInputError, match="also the input"):
        score(predictor, tmp_path / "in.parquet", tmp_path / "in.parquet")
    with pytest.raises(InvalidInputError, match="'passthrough' parameter"):
        score(predictor, table, tmp_path / "o.parquet", passthrough=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="batch_size"):
        score(predictor, table, tmp_path / "o.parquet", batch_size=0)
    assert not (tmp_path / "o.parquet").exists()


def test_failure_mid_stream_leaves_no_output(tmp_path: Path, lgbm: lgb.LGBMClassifier, monkeypatch) -> None:
    predictor = _predictor(lgbm, tmp_path)
    frame = _table(2_000).to_pandas()
    frame["f2"] = frame["f2"].astype(object)
    frame.loc[1_900, "f2"] = "oops"  # a bad value far past the first CSV block
    frame.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setattr(_batch_io, "_CSV_BLOCK_BYTES", 16_384)
    with pytest.raises(InvalidInputError, match="oops"):
        score(predictor, tmp_path / "in.csv", tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "model"]


def test_registered_model_by_uri_and_cli(client: Client, tmp_path: Path, lgbm: lgb.LGBMClassifier) -> None:
    from typer.testing import CliRunner

    from assay.cli.main import app

    run = client.start_run("churn", "train")
    version = run.log_model(lgbm, "churn", input_example=X.head(5))
    run.end()
    client.set_alias("churn", "production", version.version)
    pq.write_table(_table(), tmp_path / "in.parquet")
    result = score("models:/churn@production", tmp_path / "in.parquet", tmp_path / "o.parquet", client=client)
    assert result.model == "models:/churn@production" and result.rows == N
    with pytest.raises(NotFoundError):
        score("models:/nope@production", tmp_path / "in.parquet", tmp_path / "o.parquet", client=client)

    s = client.settings
    base = ["--store-url", s.store_url, "--artifacts-url", s.artifacts_url, "--home", str(s.home), "score"]
    runner = CliRunner()
    args = [
        "models:/churn/1",
        "-i",
        str(tmp_path / "in.parquet"),
        "-o",
        str(tmp_path / "c.csv"),
        "--keep",
        "customer_id",
    ]
    ok = runner.invoke(app, [*base, *args, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["rows"] == N
    assert pacsv.read_csv(tmp_path / "c.csv").column_names[:2] == ["customer_id", "prediction"]
    pq.write_table(_table().drop_columns(["f5"]), tmp_path / "short.parquet")
    bad = runner.invoke(app, [*base, "models:/churn/1", "-i", str(tmp_path / "short.parquet"), "-o", "x.parquet"])
    assert bad.exit_code == 2 and "'f5'" in bad.stderr
    missing = runner.invoke(app, [*base, "models:/other/1", "-i", str(tmp_path / "in.parquet"), "-o", "x.parquet"])
    assert missing.exit_code == 3


_MEMORY_PROBE = """
import json, sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq, lightgbm as lgb, pandas as pd
from pathlib import Path
from assay.registry.flavors import save_model
from assay.registry.predictor import Predictor
from assay.registry.signature import infer_signature
from assay.serving.batch import score

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

folder, small, large = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
X = pd.DataFrame(np.random.default_rng(0).normal(size=(2000, 8)), columns=[f"f{i}" for i in range(8)])
model = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, (X.f0 > 0).astype(int))
info = save_model(model, folder / "m")
predictor = Predictor.load(folder / "m", info, signature=infer_signature(X.head()))
COMPILED = sys.argv[4] == "compiled"  # compiled trees: the LLVM compile happens in the warm-up on the small file
for _ in range(2):  # twice: the read-ahead and write-behind threads reach their steady state
    score(predictor, small, folder / "small_out.parquet", batch_size=16_384, passthrough=True, compiled=COMPILED)
after_small = hwm()
score(predictor, large, folder / "large_out.parquet", batch_size=16_384, passthrough=True, compiled=COMPILED)
print(json.dumps({"small": after_small, "large": hwm()}))
"""


def _write_rows(path: Path, rows: int) -> None:
    rng = np.random.default_rng(1)
    chunk = 250_000
    schema = pa.schema([(f"f{i}", pa.float64()) for i in range(8)])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            writer.write_table(pa.table({f"f{i}": rng.normal(size=n) for i in range(8)}, schema=schema))


@pytest.mark.slow
@pytest.mark.parametrize("path", ["plain", "compiled"])
def test_memory_stays_flat_when_the_input_grows_tenfold(tmp_path: Path, path: str, monkeypatch) -> None:
    """Peak RSS (VmHWM) after a 2M-row file (128 MB of features) stays near the peak after a 200k-row file."""
    if path == "compiled":
        pytest.importorskip("lleaves")
        monkeypatch.setenv("ASSAY_COMPILED_CACHE", str(tmp_path / "cache"))
    _write_rows(tmp_path / "small.parquet", 200_000)
    _write_rows(tmp_path / "large.parquet", 2_000_000)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY_PROBE), str(tmp_path), str(tmp_path / "small.parquet"),
         str(tmp_path / "large.parquet"), path],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peaks = json.loads(done.stdout.strip().splitlines()[-1])
    assert pq.ParquetFile(tmp_path / "large.parquet").metadata.num_rows == 2_000_000
    # Reading the large file whole would add >= 128 MB (input) plus the output; streaming adds (almost) nothing.
    assert peaks["large"] - peaks["small"] < 48 * 2**20, peaks


def test_compiled_trees_score_like_lightgbm(tmp_path: Path, lgbm: lgb.LGBMClassifier, monkeypatch) -> None:
    """lleaves-compiled trees give LightGBM's numbers (NaN routing included), and the library is cached."""
    pytest.importorskip("lleaves")
    monkeypatch.setenv("ASSAY_COMPILED_CACHE", str(tmp_path / "cache"))
    table = _table()
    pq.write_table(table, tmp_path / "in.parquet")
    reg = _predictor(lgb.LGBMRegressor(n_estimators=12, verbose=-1).fit(X, X["f0"] * 3), tmp_path / "reg")
    for name, predictor in (("clf", _predictor(lgbm, tmp_path / "clf")), ("reg", reg)):
        plain = score(predictor, tmp_path / "in.parquet", tmp_path / f"{name}-plain.parquet", compiled=False)
        fast = score(predictor, tmp_path / "in.parquet", tmp_path / f"{name}-fast.parquet", compiled=True)
        assert fast.compiled and not plain.compiled and "compiled trees" in fast.summary()
        a, b = pq.read_table(tmp_path / f"{name}-plain.parquet"), pq.read_table(tmp_path / f"{name}-fast.parquet")
        assert a.column_names == b.column_names
        for column in a.column_names:
            if pa.types.is_floating(a.schema.field(column).type):
                np.testing.assert_allclose(b[column].to_numpy(), a[column].to_numpy(), rtol=1e-9, atol=1e-12)
            else:
                assert b[column].to_pylist() == a[column].to_pylist()
    assert len(list((tmp_path / "cache").glob("lightgbm-*.so"))) == 2
    again = score(reg, tmp_path / "in.parquet", tmp_path / "again.parquet", compiled=True)  # from the cache
    assert again.compiled and len(list((tmp_path / "cache").iterdir())) == 2


def test_compiled_is_off_by_default_for_small_inputs_and_for_other_models(tmp_path: Path, lgbm) -> None:
    table = _table(1_000, missing=False)
    assert not score(_predictor(lgbm, tmp_path / "clf"), table, tmp_path / "a.parquet").compiled
    sk = _predictor(LogisticRegression().fit(X, Y), tmp_path / "sk")
    assert not score(sk, table, tmp_path / "b.parquet", compiled=True).compiled  # no trees to compile
