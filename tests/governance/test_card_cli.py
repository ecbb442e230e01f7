"""``assay models card show|edit`` on a registered version."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from assay.cli.main import app
from assay.tracking.client import Client


def test_card_show_edit_and_export(client: Client, tmp_path: Path) -> None:
    with client.start_run(project="p", capture_env=False) as run:
        run.log_metrics({"auc": 0.81, "auc_ci_low": 0.78, "auc_ci_high": 0.84})
        client.log_model(run.id, LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]), "churn")
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    shown = runner.invoke(app, [*base, "models", "card", "show", "churn/1", "--json"])
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.output)
    assert card["complete"] is False and "intended_use" in card["missing"]
    fields = runner.invoke(app, [*base, "models", "card", "edit", "churn/1", "--fields", "--json"])
    names = {f["name"] for f in json.loads(fields.output)}
    assert {"intended_use", "ethical_considerations"} <= names
    note = tmp_path / "ethics.md"
    note.write_text("No person-level decisions are automated.")
    edited = runner.invoke(
        app,
        [*base, "models", "card", "edit", "models:/churn/1", "--set", "intended_use=Retention calls",
         "--from-file", f"ethical_considerations={note}", "--json"],
    )  # fmt: skip
    assert edited.exit_code == 0, edited.output
    after = json.loads(edited.output)
    assert after["fields"]["intended_use"] == "Retention calls" and "intended_use" not in after["missing"]
    out = tmp_path / "card.html"
    exported = runner.invoke(app, [*base, "models", "card", "show", "churn/1", "--format", "html", "-o", str(out)])
    assert exported.exit_code == 0 and "Retention calls" in out.read_text()
    bad = runner.invoke(app, [*base, "models", "card", "edit", "churn/1", "--set", "colour=red"])
    assert bad.exit_code == 2 and "colour" in bad.output
    nothing = runner.invoke(app, [*base, "models", "card", "edit", "churn/1"])
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
