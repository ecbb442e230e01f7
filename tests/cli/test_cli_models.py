"""``assay models ...`` against real stores: list, show, aliases, --json and error exit codes."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from assay.cli.models import signature_summary
from assay.tracking.client import Client


@pytest.fixture
def model_run(client: Client) -> str:
    """Model ``churn`` with versions 1 and 2 (v2 described), alias production → v1; returns the run id."""
    X = pd.DataFrame({"tenure": [1.0, 5.0, 9.0, 12.0], "plan": ["a", "b", "a", "b"]})
    y = [1, 1, 0, 0]
    run = client.start_run(project="churn", name="train", capture_env=False)
    model = LogisticRegression().fit(X[["tenure"]], y)
    run.log_model(model, "churn", input_example=X[["tenure"]])
    run.log_model(model, "churn", input_example=X[["tenure"]], description="second try")
    run.end()
    client.set_alias("churn", "production", 1)
    return run.id


def test_list(cli, model_run, ok_json):
    result = cli("models", "list")
    assert result.exit_code == 0, result.output
    assert "churn" in result.stdout and "production → v1" in result.stdout
    (entry,) = ok_json(cli("models", "list", "--json"))
    assert entry["name"] == "churn" and entry["versions"] == 2 and entry["latest_version"] == 2
    assert entry["aliases"] == {"production": 1}
    assert pd.Timestamp(entry["updated_at"]).tzinfo is not None


def test_list_empty(cli, ok_json):
    assert "No registered models" in cli("models", "list").stdout
    assert ok_json(cli("models", "list", "--json")) == []


def test_show_versions_and_one_version(cli, model_run, ok_json):
    result = cli("models", "show", "churn")
    assert result.exit_code == 0, result.output
    assert "v1" in result.stdout and "v2" in result.stdout and "production" in result.stdout
    assert model_run[:8] in result.stdout and "sklearn" in result.stdout and "1 input: tenure" in result.stdout
    data = ok_json(cli("models", "show", "churn", "--json"))
    assert data["aliases"] == {"production": 1}
    assert [(v["version"], v["aliases"]) for v in data["versions"]] == [(1, ["production"]), (2, [])]
    assert data["versions"][1]["description"] == "second try" and data["versions"][0]["run_id"] == model_run
    assert data["versions"][0]["signature"]["inputs"] == [{"name": "tenure", "dtype": "float"}]

    result = cli("models", "show", "churn", "--version", "2")
    assert result.exit_code == 0, result.output
    assert "models:/churn/2" in result.stdout and "second try" in result.stdout and "tenure" in result.stdout
    data = ok_json(cli("models", "show", "churn", "-v", "1", "--json"))
    assert data["version"] == 1 and data["uri"] == "models:/churn/1" and data["aliases"] == ["production"]


def test_show_unknown_model_and_version(cli, model_run, failed):
    assert "model 'nope' not found" in failed(cli("models", "show", "nope"), 3)
    assert "no version 7" in failed(cli("models", "show", "churn", "--version", "7"), 3)


def test_alias_set_move_delete(cli, client, model_run, failed):
    result = cli("models", "alias", "churn", "production", "2")
    assert result.exit_code == 0, result.output
    assert "churn@production → v2 (was v1)" in result.stdout
    assert client.registry.resolve("models:/churn@production")[1].version == 2
    assert cli("models", "alias", "churn", "staging", "1").stdout.strip() == "churn@staging → v1"
    result = cli("models", "alias", "churn", "staging", "--delete")
    assert result.exit_code == 0 and "Removed alias churn@staging (was v1)" in result.stdout
    assert "no alias 'staging'" in failed(cli("models", "alias", "churn", "staging", "--delete"), 3)


def test_alias_errors(cli, model_run, failed):
    assert "give the VERSION" in failed(cli("models", "alias", "churn", "staging"), 2)
    assert "not both" in failed(cli("models", "alias", "churn", "staging", "1", "--delete"), 2)
    assert "is not valid" in failed(cli("models", "alias", "churn", "bad alias", "1"), 2)
    assert "no version 9" in failed(cli("models", "alias", "churn", "staging", "9"), 3)
    assert "model 'nope' not found" in failed(cli("models", "alias", "nope", "staging", "1"), 3)


def test_signature_summary():
    inputs = [{"name": f"c{i}", "dtype": "float"} for i in range(6)]
    sig = {"inputs": inputs, "outputs": [{"name": "y", "dtype": "float"}]}
    assert signature_summary(sig) == "6 inputs: c0 (float), c1 (float), c2 (float), c3 (float), … +2 → 1 output"
    assert signature_summary(sig, 2, kinds=False) == "6 inputs: c0, c1, … +4 → 1 output"
    assert signature_summary(None) == "-"
