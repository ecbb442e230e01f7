"""Tracking through the public API, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import assay
from assay.errors import ConflictError, InvalidInputError, NotFoundError, StateError, UnsafePathError
from assay.tracking.client import Client


def test_issue_example_round_trip(client: Client, tmp_path: Path) -> None:
    data = pd.DataFrame({"tenure": [1, 5, 9], "plan": ["a", "b", "a"]})
    data_path = tmp_path / "customers.parquet"
    data.to_parquet(data_path)
    plot = tmp_path / "roc.png"
    plot.write_bytes(b"\x89PNG fake but bytes are bytes")
    with assay.start_run(project="churn", name="lgbm-baseline", tags={"team": "growth"}) as run:
        run.log_params({"learning_rate": 0.05, "num_leaves": 31})
        for step in range(1000):
            run.log_metric("train_loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"auc": 0.91, "logloss": 0.28})
        ds = run.log_dataset(data_path, role="train")
        run.log_artifact(plot, "plots/roc.png")
    got = assay.get_run(run.id)
    assert got.status == "finished"
    assert got.params == {"learning_rate": "0.05", "num_leaves": "31"}
    assert got.metrics["auc"] == pytest.approx(0.91)
    assert got.tags == {"team": "growth"}
    hist = got.metric_history("train_loss")
    assert list(hist["step"]) == list(range(1000))
    assert hist["value"].iloc[-1] == pytest.approx(1 / 1000)
    assert str(hist["timestamp"].dtype).startswith("datetime64")
    (inp,) = got.inputs()
    assert inp["role"] == "train" and inp["num_rows"] == 3 and inp["fingerprint"] == ds["fingerprint"]
    assert inp["schema"] == {"tenure": "int64", "plan": "large_string"} or "tenure" in inp["schema"]
    (art,) = got.artifacts()
    assert art["path"] == "plots/roc.png"
    out = got.download_artifact("plots/roc.png", tmp_path / "copy.png")
    assert Path(out).read_bytes() == plot.read_bytes()
    info = got.info()
    assert info["environment"]["python"]
    assert "packages" in info["environment"] and "pandas" in info["environment"]["packages"]


def test_failed_run_is_marked_and_flushed(client: Client) -> None:
    with pytest.raises(RuntimeError, match="boom"), assay.start_run(project="p") as run:
        for i in range(50):
            assay.log_metric("loss", float(i))
        raise RuntimeError("boom")
    got = client.get_run(run.id)
    assert got.status == "failed"
    assert len(got.metric_history("loss")) == 50
    assert got.info()["end_time"] is not None


def test_default_steps_increment_per_key(client: Client) -> None:
    with client.start_run(project="p") as run:
        for v in (3.0, 2.0, 1.0):
            run.log_metric("a", v)
        run.log_metric("b", 7.0)
    hist = client.get_run(run.id).metric_history("a")
    assert list(hist["step"]) == [0, 1, 2]
    assert client.get_run(run.id).metrics == {"a": 1.0, "b": 7.0}


def test_latest_metric_is_highest_step(client: Client) -> None:
    with client.start_run(project="p") as run:
        run.log_metric("m", 5.0, step=10)
        run.log_metric("m", 1.0, step=2)  # logged later but an earlier step
    assert client.get_run(run.id).metrics["m"] == 5.0


def test_nan_and_inf_are_stored_faithfully(client: Client) -> None:
    with client.start_run(project="p") as run:
        run.log_metric("loss", float("nan"), step=0)
        run.log_metric("loss", float("inf"), step=1)
        run.log_metric("loss", float("-inf"), step=2)
        run.log_metric("nanlast", float("nan"))
    values = list(client.get_run(run.id).metric_history("loss")["value"])
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf
    assert math.isnan(client.get_run(run.id).metrics["nanlast"])


def test_param_relogged_with_other_value_conflicts(client: Client) -> None:
    with client.start_run(project="p") as run:
        run.log_params({"lr": 0.1, "depth": 3})
        run.log_params({"lr": 0.1})  # same value: fine
        with pytest.raises(ConflictError, match=r"'lr'.*'0\.1'.*'0\.2'"):
            run.log_params({"lr": 0.2, "new": 1})
        with pytest.raises(ValueError):  # ConflictError is a ValueError too
            run.log_param("depth", 4)
    assert client.get_run(run.id).params == {"lr": "0.1", "depth": "3"}


@pytest.mark.parametrize(
    ("value", "match"),
    [("abc", "must be a number"), (None, "must be a number"), ([1], "must be a number")],
)
def test_bad_metric_values(client: Client, value: object, match: str) -> None:
    with client.start_run(project="p") as run, pytest.raises(InvalidInputError, match=match):
        run.log_metric("x", value)  # type: ignore[arg-type]


def test_bad_keys_and_steps(client: Client) -> None:
    with client.start_run(project="p") as run:
        with pytest.raises(InvalidInputError, match="non-empty string"):
            run.log_metric("", 1.0)
        with pytest.raises(InvalidInputError, match="non-empty string"):
            run.log_metric("k" * 300, 1.0)
        with pytest.raises(InvalidInputError, match="step must be an integer"):
            run.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            run.log_params(["not", "a", "dict"])  # type: ignore[arg-type]


def test_logging_to_ended_run_is_a_state_error(client: Client) -> None:
    with client.start_run(project="p") as run:
        pass
    with pytest.raises(StateError, match="has ended"):
        run.log_metric("x", 1.0)
    with pytest.raises(StateError):
        run.log_params({"a": 1})


def test_unknown_ids(client: Client) -> None:
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        client.get_run("nope")
    with pytest.raises(LookupError):
        assay.get_run("nope")
    with pytest.raises(NotFoundError, match="project 'ghost' not found"):
        client.search_runs(project="ghost")
    with client.start_run(project="p") as run:
        run.log_metric("a", 1.0)
    with pytest.raises(NotFoundError, match="no metric 'b'"):
        client.get_run(run.id).metric_history("b")
    with pytest.raises(NotFoundError, match="no artifact"):
        client.download_artifact(run.id, "missing.txt", "/tmp")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../b", "/etc/passwd", "..", "C:/x"])
def test_artifact_paths_cannot_escape(client: Client, tmp_path: Path, path: str) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with client.start_run(project="p") as run, pytest.raises(UnsafePathError):
        run.log_artifact(f, path)


def test_log_artifact_folder(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    with client.start_run(project="p") as run:
        run.log_artifact(folder)
    assert [a["path"] for a in run.artifacts()] == ["report/a.txt", "report/sub/b.txt"]


def test_dataset_from_dataframe_is_versioned_by_content(client: Client) -> None:
    df = pd.DataFrame({"x": [1, 2, 3]})
    with client.start_run(project="p") as run:
        a = run.log_dataset(df, name="frame")
        b = run.log_dataset(df.copy(), name="frame", role="eval")
        c = run.log_dataset(df.assign(x=[1, 2, 4]), name="frame", role="test")
    assert a["dataset_version_id"] == b["dataset_version_id"] != c["dataset_version_id"]
    assert [i["role"] for i in run.inputs()] == ["train", "eval", "test"]


def test_dataset_errors(client: Client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with client.start_run(project="p") as run:
        with pytest.raises(NotFoundError, match="does not exist"):
            run.log_dataset(tmp_path / "missing.parquet")
        with pytest.raises(InvalidInputError, match="not a readable Parquet"):
            run.log_dataset(bad)
        with pytest.raises(InvalidInputError, match="file path, a folder or a pandas DataFrame"):
            run.log_dataset(42)  # type: ignore[arg-type]


def test_fluent_without_active_run(client: Client) -> None:
    with pytest.raises(StateError, match="no active run"):
        assay.log_metric("x", 1.0)


def test_nested_fluent_runs_log_to_innermost(client: Client) -> None:
    with assay.start_run(project="p", name="outer") as outer:
        with assay.start_run(project="p", name="inner", parent_run_id=outer.id) as inner:
            assay.log_metric("m", 1.0)
        assay.log_metric("m", 2.0)
    assert client.get_run(inner.id).metrics == {"m": 1.0}
    assert client.get_run(outer.id).metrics == {"m": 2.0}
    assert client.get_run(inner.id).info()["parent_run_id"] == outer.id


def test_resume_and_terminate(client: Client) -> None:
    run = client.start_run(project="p")
    run.log_metric("a", 1.0)
    client.flush()
    client.set_terminated(run.id, "killed")
    assert client.get_run(run.id).status == "killed"
    again = client.resume_run(run.id)
    again.log_metric("a", 2.0, step=1)
    again.end()
    assert client.get_run(run.id).status == "finished"
    assert client.get_run(run.id).metrics["a"] == 2.0
    with pytest.raises(InvalidInputError, match="status must be one of"):
        client.set_terminated(run.id, "exploded")


def test_log_batch_bulk(client: Client) -> None:
    run = client.start_run(project="p")
    client.log_batch(run.id, [("loss", 1.0 / (i + 1), i) for i in range(20_000)])
    run.end()
    hist = client.get_run(run.id).metric_history("loss")
    assert len(hist) == 20_000 and hist["step"].is_monotonic_increasing


def test_search_runs_through_client(client: Client) -> None:
    for i, leaves in enumerate([15, 31, 31, 63]):
        with client.start_run(project="churn", name=f"r{i}") as run:
            run.log_params({"num_leaves": leaves})
            run.log_metric("auc", 0.80 + i * 0.03)
    with client.start_run(project="other") as run:
        run.log_params({"num_leaves": 31})
        run.log_metric("auc", 0.99)
    df = assay.search_runs(
        project="churn", filter="metrics.auc > 0.85 and params.num_leaves = 31", order_by=["metrics.auc desc"], limit=20
    )
    assert list(df["name"]) == ["r2"]
    assert df["metrics.auc"].iloc[0] == pytest.approx(0.86)
    everything = client.search_runs(order_by=["metrics.auc desc"])
    assert len(everything) == 5 and everything["project"].iloc[0] == "other"


def test_events_are_recorded(client: Client) -> None:
    from sqlalchemy import select

    from assay.store.models import Event

    with client.start_run(project="p") as run:
        pass
    with client.db.read() as conn:
        actions = [r.action for r in conn.execute(select(Event).where(Event.entity_id == run.id).order_by(Event.id))]
    assert actions == ["run.start", "run.finished"]


def test_long_param_values(client: Client) -> None:
    long_value = ",".join(f"feature_{i}" for i in range(2000))  # ~20 kB, e.g. a feature list
    with client.start_run(project="p") as run:
        run.log_params({"features": long_value})
    assert client.get_run(run.id).params["features"] == long_value
    found = client.search_runs(project="p", filter=f"params.features = '{long_value}'")
    assert list(found["run_id"]) == [run.id]


@pytest.mark.parametrize("window", [5, 500])
def test_top_k_search_matches_full_search(client: Client, monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    """The newest-runs probe (EXISTS) and the fallback (IN) give the same top-k as the full result."""
    from assay.tracking import search

    monkeypatch.setattr(search, "_RECENT_WINDOW", window)
    for i in range(60):
        with client.start_run(project="topk", capture_env=False) as run:
            run.log_params({"leaves": [15, 31][i % 2]})
            run.log_metric("auc", (i * 37 % 100) / 100)
    filters = [
        "metrics.auc > 0.5",
        "metrics.auc > 0.97 and params.leaves = 31",
        "params.leaves = 15 or metrics.auc < 0.1",
        "not metrics.auc > 0.2",
        "metrics.missing is null and params.leaves = 31",
        "metrics.auc > 5",
    ]
    for f in filters:
        full = client.search_runs(project="topk", filter=f)
        for limit, offset in [(1, 0), (3, 0), (5, 2), (20, 0), (100, 0)]:
            got = client.search_runs(project="topk", filter=f, limit=limit, offset=offset)
            assert list(got["run_id"]) == list(full["run_id"][offset : offset + limit]), (f, limit, offset)
