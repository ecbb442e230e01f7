"""connect(): URLs, options, lifecycle and the errors for bad ones (DuckDB; others only where cheap)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assay.engine import Engine, connect
from assay.engine.base import _spark_master
from assay.errors import ConfigError, InvalidInputError, StateError, StoreError


def test_default_is_in_memory_duckdb() -> None:
    with connect() as eng:
        assert isinstance(eng, Engine)
        assert eng.dialect == "duckdb"
        assert eng.url == "duckdb://"
        assert eng.scalar("select 42") == 42
    assert connect("duckdb://").dialect == "duckdb"


def test_duckdb_file_persists(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "warehouse.duckdb"
    with connect(f"duckdb:///{db}") as eng:
        eng.sql("create table kpi as select 1 as id, 2.5 as value")
        eng.register("kpi", pa.table({"other": [1]}))  # a registered name shadows the stored table...
        assert eng.columns("kpi") == {"other": "BIGINT"}
    assert db.exists()
    with connect(f"duckdb:///{db}", read_only=True) as eng:  # ...and never replaces it
        assert eng.sql("select * from kpi").to_pylist() == [{"id": 1, "value": 2.5}]
        assert "kpi" in eng.tables()


def test_duckdb_options() -> None:
    with connect(threads=1, memory_limit="512MB") as eng:
        assert eng.scalar("select current_setting('threads')") == 1
        assert "488" in str(eng.scalar("select current_setting('memory_limit')"))  # 512 MB in MiB
    with pytest.raises(ConfigError, match="invalid DuckDB option"):
        connect(no_such_setting=1)


def test_python_variables_are_not_scanned() -> None:
    secret_frame = pd.DataFrame({"x": [1]})  # noqa: F841 - DuckDB would find it by name without the guard
    with connect() as eng, pytest.raises(InvalidInputError, match="table 'secret_frame' not found"):
        eng.sql("select * from secret_frame")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "bigquery://project", "sqlite:///x.db"])
def test_unsupported_scheme(url: str) -> None:
    with pytest.raises(ConfigError, match="Unsupported engine URL scheme"):
        connect(url)


def test_url_without_scheme() -> None:
    with pytest.raises(ConfigError, match="has no scheme"):
        connect("warehouse.duckdb")


def test_spark_master_parsing() -> None:
    assert _spark_master("spark://") == "local[*]"
    assert _spark_master("spark://local[2]") == "local[2]"
    assert _spark_master("spark://master.example:7077") == "spark://master.example:7077"


def test_spark_missing_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r"pip install 'assay\[spark\]'"):
        connect("spark://local[1]")


def test_postgres_unreachable_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    expected = re.escape("cannot reach PostgreSQL at postgresql+psycopg://u:***@127.0.0.1:1/db")
    with pytest.raises(StoreError, match=expected):
        connect("postgresql://u:secret@127.0.0.1:1/db", connect_timeout=2)


def test_postgres_other_driver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="psycopg 3"):
        connect("postgresql+psycopg2://u@127.0.0.1/db")


def test_closed_engine_refuses_work() -> None:
    eng = connect()
    eng.close()
    eng.close()  # idempotent
    with pytest.raises(StateError, match="closed"):
        eng.sql("select 1")
    assert "closed" in repr(eng)


def test_register_rejects_unknown_sources(tmp_path: Path) -> None:
    with connect() as eng:
        with pytest.raises(InvalidInputError, match="cannot register a dict"):
            eng.register("x", {"a": [1]})
        with pytest.raises(InvalidInputError, match="no files match"):
            eng.register("x", str(tmp_path / "*.parquet"))
        (tmp_path / "empty").mkdir()
        with pytest.raises(InvalidInputError, match="holds no Parquet"):
            eng.register("x", tmp_path / "empty")
        (tmp_path / "notes.bin").write_bytes(b"hello")
        with pytest.raises(InvalidInputError, match="cannot tell the format"):
            eng.register("x", tmp_path / "notes.bin")


def test_register_glob_and_record_batch_reader(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    for i in range(3):
        pq.write_table(pa.table({"i": [i, i]}), tmp_path / f"part-{i}.parquet")
    with connect() as eng:
        eng.register("parts", str(tmp_path / "part-*.parquet"))
        assert eng.scalar("select sum(i)::BIGINT from parts") == 6
        reader = pa.RecordBatchReader.from_batches(pa.schema([("v", pa.int64())]), [pa.record_batch([[1, 2]], ["v"])])
        eng.register("stream", reader)
        assert eng.scalar("select count(*) from stream") == 2
        quoted = tmp_path / "it's; drop table parts.parquet"  # paths are quoted, never pasted into SQL
        pq.write_table(pa.table({"q": [1]}), quoted)
        eng.register("quoted", quoted)
        assert eng.scalar("select count(*) from quoted") == 1
        assert eng.scalar("select count(*) from parts") == 6


def test_sql_rejects_empty_and_reports_syntax() -> None:
    with connect() as eng:
        with pytest.raises(InvalidInputError, match="non-empty"):
            eng.sql("  ")
        with pytest.raises(InvalidInputError, match="syntax error"):
            eng.sql("selec 1")


def test_duckdb_fork_shares_file_views_and_runs_beside_the_parent(tmp_path) -> None:
    """A fork sees the parent's file views (not its registered DataFrames), runs on another thread, and
    closing it leaves the parent open."""
    import threading

    import pandas as pd

    from assay.engine import connect

    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": range(100)}).to_parquet(path)
    parent = connect()
    parent.register("files", path)
    parent.register("frame", pd.DataFrame({"y": [1, 2]}))
    fork = parent.fork()
    assert "files" in fork.tables() and "frame" not in fork.tables()
    results: dict[str, object] = {}

    def run(name: str, engine) -> None:
        results[name] = engine.scalar("SELECT sum(x) FROM files WHERE x >= $lo", {"lo": 10})

    threads = [threading.Thread(target=run, args=(n, e)) for n, e in (("parent", parent), ("fork", fork))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"parent": 4905, "fork": 4905}
    fork.close()
    assert parent.scalar("SELECT count(*) FROM frame") == 2
    parent.close()
