"""``assay runs ...`` against real stores: tables, --json, prefixes, errors and exit codes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from assay.cli.render import sparkline
from assay.tracking.client import Client


@pytest.fixture
def runs(client: Client, tmp_path: Path) -> dict[str, str]:
    """Three finished runs in project ``churn`` and one still-running run in ``other``; name → id."""
    ids = {}
    for i, (lr, leaves, auc) in enumerate([(0.05, 31, 0.80), (0.1, 31, 0.86), (0.1, 63, 0.83)]):
        tags = {"stage": "dev", "note": "[bold]literal[/bold]"}
        run = client.start_run(project="churn", name=f"lgbm-{i}", tags=tags, capture_env=i == 0)
        run.log_params({"lr": lr, "num_leaves": leaves, "model": "lgbm"})
        for step in range(20):
            run.log_metric("loss", 1.0 / (step + 1) + i / 100)
        run.log_metric("auc", auc)
        run.end()
        ids[run.name] = run.id
    stuck = client.start_run(project="other", name="stuck", capture_env=False)
    stuck.log_dataset(pd.DataFrame({"a": [1, 2, 3]}), name="tiny")
    (tmp_path / "notes.txt").write_text("hello")
    stuck.log_artifact(tmp_path / "notes.txt", "docs/notes.txt")
    stuck.flush()
    ids["stuck"] = stuck.id
    return ids


# -- list ------------------------------------------------------------------------------------------
def test_list_table_shows_runs_and_key_columns(cli, runs):
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    for name, run_id in runs.items():
        assert name in result.stdout
        assert run_id[:8] in result.stdout
    assert "auc" in result.stdout and "0.86" in result.stdout
    assert "project" in result.stdout  # two projects listed
    assert "4 runs" in result.stdout


def test_list_json_filter_order_limit(cli, runs, ok_json):
    data = ok_json(cli("runs", "list", "--project", "churn", "--order-by", "metrics.auc desc", "--json"))
    assert [r["name"] for r in data] == ["lgbm-1", "lgbm-2", "lgbm-0"]
    first = data[0]
    assert first["run_id"] == runs["lgbm-1"]
    assert first["params"] == {"lr": "0.1", "num_leaves": "31", "model": "lgbm"}
    assert first["metrics"]["auc"] == pytest.approx(0.86)
    assert first["tags"]["stage"] == "dev"
    assert first["status"] == "finished" and first["duration_s"] >= 0
    assert pd.Timestamp(first["start_time"]) <= pd.Timestamp(first["end_time"])

    data = ok_json(cli("runs", "list", "-f", "params.num_leaves = 31 and metrics.auc > 0.81", "--json"))
    assert [r["name"] for r in data] == ["lgbm-1"]
    data = ok_json(cli("runs", "list", "--limit", "2", "--json"))
    assert len(data) == 2
    data = ok_json(cli("runs", "list", "-o", "params.num_leaves desc", "-o", "metrics.auc", "--json", "-p", "churn"))
    assert [r["name"] for r in data] == ["lgbm-2", "lgbm-0", "lgbm-1"]


def test_list_explicit_columns_and_empty(cli, runs):
    result = cli("runs", "list", "-c", "tags.stage", "-c", "params.lr", "-p", "churn")
    assert result.exit_code == 0, result.output
    assert "tags.stage" in result.stdout and "dev" in result.stdout and "0.05" in result.stdout
    result = cli("runs", "list", "--filter", "metrics.auc > 2")
    assert result.exit_code == 0 and "No runs found" in result.stdout
    assert cli("runs", "list", "-c", "bogus").exit_code == 2


def test_list_narrow_terminal_keeps_names(cli, runs):
    result = cli("runs", "list", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "lgbm-1" in result.stdout and "stuck" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_list_bad_filter_shows_position_and_pointer(cli, runs, failed):
    err = failed(cli("runs", "list", "--filter", "metrics.auc >> 0.5"), 2)
    lines = err.splitlines()
    assert "position 13" in lines[0]
    assert lines[1].strip() == "metrics.auc >> 0.5"
    assert lines[2].index("^") == lines[1].index("metrics") + 13


def test_list_bad_order_by_and_unknown_project(cli, runs, failed):
    assert "error:" in failed(cli("runs", "list", "--order-by", "metrics.auc sideways"), 2)
    assert "project 'nope' not found" in failed(cli("runs", "list", "-p", "nope"), 3)
    assert cli("runs", "list", "--limit", "0").exit_code == 2  # usage error


# -- show ------------------------------------------------------------------------------------------
def test_show_table_and_prefix(cli, runs):
    run_id = runs["stuck"]
    result = cli("runs", "show", run_id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert run_id in out and "running" in out and "other" in out
    assert "tiny" in out and "docs/notes.txt" in out and "5 B" in out
    result = cli("runs", "show", runs["lgbm-0"].upper()[:10])  # case-insensitive prefix
    assert result.exit_code == 0 and "num_leaves" in result.stdout and "Metrics" in result.stdout
    assert "[bold]literal[/bold]" in result.stdout  # user data is never Rich markup


def test_show_json_has_everything(cli, runs, ok_json):
    data = ok_json(cli("runs", "show", runs["lgbm-0"], "--json"))
    assert data["run_id"] == runs["lgbm-0"] and data["project"] == "churn"
    assert data["params"]["lr"] == "0.05"
    assert data["metrics"]["loss"] == pytest.approx(1 / 20)
    assert data["tags"] == {"stage": "dev", "note": "[bold]literal[/bold]"}
    assert data["environment"]["python"]  # captured for this run
    assert "git_commit" in data
    data = ok_json(cli("runs", "show", runs["stuck"], "--json"))
    assert data["status"] == "running" and data["end_time"] is None
    assert [d["name"] for d in data["inputs"]] == ["tiny"] and data["inputs"][0]["num_rows"] == 3
    assert [(a["path"], a["size"]) for a in data["artifacts"]] == [("docs/notes.txt", 5)]
    assert data["environment"] == {} and data["git_commit"] is None


def test_show_unknown_short_and_ambiguous(cli, client, runs, failed, ok_json, monkeypatch):
    assert "not found" in failed(cli("runs", "show", "0" * 32), 3)
    assert "at least 6" in failed(cli("runs", "show", runs["stuck"][:5]), 3)
    assert "not found" in failed(cli("runs", "show", "not-hex-at-all"), 3)
    counter = iter(range(100))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(f"abcdef{next(counter):02x}{'0' * 24}"))
    a = client.start_run(project="churn", name="twin-a", capture_env=False)
    b = client.start_run(project="churn", name="twin-b", capture_env=False)
    err = failed(cli("runs", "show", "abcdef"), 2)
    assert "ambiguous" in err and "twin-a" in err and "twin-b" in err and len(err.splitlines()) == 1
    assert "not found" in failed(cli("runs", "show", "abcdef02"), 3)
    assert ok_json(cli("runs", "show", "abcdef01", "--json"))["run_id"] == b.id != a.id


# -- compare ---------------------------------------------------------------------------------------
def test_compare_table_and_json(cli, runs, ok_json):
    result = cli("runs", "compare", runs["lgbm-0"], runs["lgbm-1"][:8], runs["lgbm-2"])
    assert result.exit_code == 0, result.output
    assert "lgbm-0" in result.stdout and "num_leaves" in result.stdout and "auc" in result.stdout
    assert "2 of 3 params differ" in result.stdout
    data = ok_json(cli("runs", "compare", runs["lgbm-0"], runs["lgbm-1"], "--json"))
    assert [r["name"] for r in data["runs"]] == ["lgbm-0", "lgbm-1"]
    assert data["differing_params"] == ["lr"]
    assert data["params"]["lr"] == {runs["lgbm-0"]: "0.05", runs["lgbm-1"]: "0.1"}
    assert data["metrics"]["auc"][runs["lgbm-1"]] == pytest.approx(0.86)
    result = cli("runs", "compare", runs["lgbm-0"], runs["lgbm-1"], "--only-diff")
    assert "lr" in result.stdout and "num_leaves" not in result.stdout


def test_compare_needs_two_runs(cli, runs, failed):
    assert "at least two" in failed(cli("runs", "compare", runs["lgbm-0"], runs["lgbm-0"][:8]), 2)
    assert "not found" in failed(cli("runs", "compare", runs["lgbm-0"], "f" * 32), 3)


# -- history ---------------------------------------------------------------------------------------
def test_history_table_and_json(cli, runs, ok_json, failed):
    result = cli("runs", "history", runs["lgbm-0"][:8], "loss", "--points", "5")
    assert result.exit_code == 0, result.output
    assert "20 points" in result.stdout and "▁" in result.stdout and "min" in result.stdout
    data = ok_json(cli("runs", "history", runs["lgbm-0"], "loss", "--json"))
    assert [p["step"] for p in data["points"]] == list(range(20))
    assert data["points"][0]["value"] == pytest.approx(1.0) and data["metric"] == "loss"
    assert "has no metric 'nope'" in failed(cli("runs", "history", runs["lgbm-0"], "nope"), 3)


def test_sparkline():
    assert sparkline([1, 2, 3, 4]) == "▁▃▆█"
    assert sparkline([5, 5]) == "▅▅"
    assert sparkline([1.0, float("nan"), 3.0]) == "▁ █"
    assert len(sparkline(list(range(1000)), width=40)) == 40
    assert sparkline([]) == ""


# -- end -------------------------------------------------------------------------------------------
def test_end_marks_running_run_and_refuses_ended(cli, client, runs, failed):
    run_id = runs["stuck"]
    result = cli("runs", "end", run_id[:8], "--status", "failed")
    assert result.exit_code == 0, result.output
    assert "marked failed" in result.stdout
    info = client.run_info(run_id)
    assert info["status"] == "failed" and info["end_time"] is not None
    assert "already ended as failed" in failed(cli("runs", "end", run_id), 1)
    assert cli("runs", "end", run_id, "--force").exit_code == 0
    assert client.run_info(run_id)["status"] == "finished"
    assert cli("runs", "end", run_id, "--status", "exploded", "--force").exit_code == 2
    assert "not found" in failed(cli("runs", "end", "1" * 32), 3)
